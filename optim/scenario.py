"""The scenario file: a pydantic schema of MODEL.md §6 with the defaults of §5.

Unknown keys are rejected with the closest valid name; every problem of the file is
reported at once as an :class:`InputError`.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import typing
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from optim.errors import InputError

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
RESOLUTION_RE = re.compile(r"^(hourly|blocks:[1-9]\d*)$")

NonNeg = Annotated[float, Field(ge=0)]
Pos = Annotated[float, Field(gt=0)]
Share = Annotated[float, Field(gt=0, le=1)]


class Strict(BaseModel):
    """Base: unknown keys are errors, and values are not coerced (strict mode): a string
    is not a number or a boolean (`months = "36"`, `power_pass_through = "yes"` are bad
    input); an integer is still a valid float (`firm_import_mw = 10`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _month(value: str) -> str:
    if not isinstance(value, str) or not MONTH_RE.match(value):
        raise ValueError(f"must be a month 'YYYY-MM', got {value!r}")
    return value


class ScenarioSection(Strict):
    name: str = Field(min_length=1)
    start: str
    months: int = Field(gt=0, le=600)
    discount_rate: float = Field(0.0, ge=0, le=1)
    pool_fee: float = Field(0.0, ge=0, lt=1)
    block_mw: Pos = 1.0
    invest_every_months: int = Field(1, ge=1)
    resolution: str = "hourly"
    mip_gap: float = Field(1e-4, ge=0, lt=1)
    time_limit_s: float | None = Field(None, gt=0)
    stress_hours_per_year: int = Field(0, ge=0)
    capex_budget_usd: list[NonNeg] = []

    _start = field_validator("start")(_month)

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, value: str) -> str:
        if not RESOLUTION_RE.match(value):
            raise ValueError(f"must be 'hourly' or 'blocks:K' with K >= 1, got {value!r}")
        return value


class DataSection(Strict):
    prices: str
    hashprice: str | None = None  # required unless every future gives a hashprice
    fuel: str | None = None
    events: str | None = None
    profiles: str | None = None


class Site(Strict):
    """A `[[site]]` entry: its name and where its power is priced. Each option adds its
    own fields to this base (see `scenario_model`)."""

    name: str = Field(min_length=1)
    node: str | None = None
    fixed_price_usd_per_mwh: float | None = None

    @model_validator(mode="after")
    def _one_price(self) -> Site:
        if self.node is not None and self.fixed_price_usd_per_mwh is not None:
            raise ValueError("give either node or fixed_price_usd_per_mwh, not both")
        if self.node is None and self.fixed_price_usd_per_mwh is None:
            raise ValueError("needs a node or a fixed_price_usd_per_mwh")
        return self


SolverValue = bool | int | float | str


class FuturesSection(Strict):
    """`[futures]` (MODEL.md §9): the file, the commitment month, probabilities (default
    equal) and the risk measure `(1 - risk_weight) E[NPV] + risk_weight CVaR_risk_alpha`."""

    file: str = Field(min_length=1)
    commit_months: int = Field(ge=1)
    probability: dict[str, float] | None = None
    risk_alpha: float = Field(0.9, gt=0, lt=1)
    risk_weight: float = Field(0.0, ge=0, le=1)


class Scenario(Strict):
    """A whole scenario file, validated; `base_dir` resolves the [data] paths.

    This base holds the sections every scenario has; `scenario_model()` extends it (and
    `Site`, `DataSection`) with the fields of every registered option.
    """

    scenario: ScenarioSection
    data: DataSection
    site: list[Site] = Field(min_length=1)
    solver: dict[str, SolverValue] = {}
    futures: FuturesSection | None = None
    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        from optim.models import registry

        problems = duplicate_names("site", [site.name for site in self.site])
        if self.data.hashprice is None and self.futures is None:
            problems.append("data.hashprice: required field is missing (only a [futures] "
                            "file with hashprices for every future replaces it)")
        months = self.scenario.months
        if self.futures is not None and self.futures.commit_months > months:
            problems.append(f"futures.commit_months: must be at most the horizon's {months} "
                            f"months (got {self.futures.commit_months})")
        for option in registry():
            if option.validate is not None:
                problems += option.validate(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def path(self, key: str) -> Path | None:
        """The absolute path of a [data] file, or None when it is not given."""
        value = getattr(self.data, key)
        return None if value is None else (self.base_dir / value).resolve()


_MODELS: dict[tuple[int, ...], type[Scenario]] = {}


def scenario_model() -> type[Scenario]:
    """The scenario schema of the registered options: the base sections plus each
    option's top-level tables, `[[site]]` fields and `[data]` files."""
    from optim.models import registry

    options = registry()
    key = tuple(id(o) for o in options)
    if key not in _MODELS:
        def fields(attribute: str) -> dict:
            return {k: v for o in options for k, v in getattr(o, attribute).items()}

        site = create_model("Site", __base__=Site, **fields("site_fields"))
        data = create_model("DataSection", __base__=DataSection, **fields("data_fields"))
        _MODELS[key] = create_model("Scenario", __base__=Scenario, data=(data, ...),
                                    site=(list[site], Field(min_length=1)),
                                    **fields("scenario_fields"))
    return _MODELS[key]


def duplicate_names(kind: str, names: list[str]) -> list[str]:
    """A problem for every name used more than once in a table of `kind` entries."""
    return [f"{kind}: name {dup!r} is used more than once"
            for dup in sorted({n for n in names if names.count(n) > 1})]


def site_references(scenario: Scenario, table: str, entries: str, field: str) -> list[str]:
    """Problems of the top-level `table` entries' names and of each site's `entries`
    whose `field` names an entry of `table`: unknown names (with a suggestion) and names
    listed twice at a site."""
    names = [item.name for item in getattr(scenario, table)]
    problems = duplicate_names(table, names)
    known = set(names)  # a name defined twice is still an entry (its duplicate is the error)
    for i, site in enumerate(scenario.site):
        listed = [getattr(entry, field) for entry in getattr(site, entries)]
        for j, name in enumerate(listed):
            where = f"site[{i}] ({site.name}).{entries}[{j}]"
            if name not in known:
                problems.append(f"{where}.{field}: {name!r} is not a [[{table}]] entry"
                                f"{_suggest(name, sorted(known))}")
            if listed[:j].count(name) == 1:  # once, at its second listing
                problems.append(f"{where}: {field} {name!r} is listed more than once")
    return problems


def _suggest(name: str, valid: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(str(name), list(valid), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


def _model_classes(annotation: object) -> list[type[BaseModel]]:
    """The pydantic model classes inside an annotation (through Optional and list)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found.extend(_model_classes(arg))
    return found


def _fields_at(loc: tuple) -> list[str]:
    """Valid keys of the table found at `loc` (for 'did you mean' hints)."""
    model: type[BaseModel] | None = scenario_model()
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        classes = _model_classes(field.annotation)
        model = classes[0] if classes else None
    return [] if model is None else [n for n in model.model_fields if n != "base_dir"]


def _loc_text(raw: dict, loc: tuple) -> str:
    parts: list[str] = []
    node: object = raw
    for part in loc:
        if isinstance(part, int):
            name = node[part].get("name") if isinstance(node, list) and part < len(node) and \
                isinstance(node[part], dict) else None
            parts[-1] += f"[{part}]" + (f" ({name})" if name else "")
            node = node[part] if isinstance(node, list) and part < len(node) else None
        else:
            parts.append(str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return ".".join(parts) or "(file)"


def _describe(raw: dict, error: dict) -> str:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    loc = tuple(p for p in loc if p not in {"bool", "int", "float", "str"})
    where = _loc_text(raw, loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        hint = _suggest(loc[-1], _fields_at(loc[:-1]))
        return f"{where}: unknown key{hint}"
    if kind == "missing":
        return f"{where}: required field is missing"
    message = error["msg"].removeprefix("Value error, ")
    if kind != "value_error":
        return f"{where}: {message} (got {error.get('input')!r})"
    return message if not loc else "\n".join(f"{where}: {m}" for m in message.split("\n"))


def parse_scenario(raw: dict, base_dir: Path, source: str = "scenario") -> Scenario:
    """Validate a scenario mapping; raise InputError listing every problem."""
    try:
        return scenario_model().model_validate({**raw, "base_dir": base_dir})
    except ValidationError as exc:
        lines = [line for e in exc.errors() for line in _describe(raw, e).split("\n")]
        problems = list(dict.fromkeys(lines))
        raise InputError(problems, source) from None


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario TOML file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"file not found: {path}", str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", str(path)) from None
    return parse_scenario(raw, path.resolve().parent, str(path))


def with_overrides(scenario: Scenario, names: dict[str, str] | None = None,
                   **values: object) -> Scenario:
    """`scenario` with `[scenario]` fields replaced by `values` (None: keep the file's),
    checked by the same field rules as the file; a problem names the field by its
    `names` entry (e.g. the command-line flag `--mip-gap`). Raises InputError."""
    given = {k: v for k, v in values.items() if v is not None}
    if not given:
        return scenario
    section = scenario.scenario
    try:
        checked = type(section).model_validate({**section.model_dump(), **given})
    except ValidationError as exc:
        names = names or {}
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            what = names.get(field, f"scenario.{field}")
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{what}: {message} (got {given.get(field, error.get('input'))!r})"
                            if error["type"] != "value_error" else f"{what}: {message}")
        raise InputError(list(dict.fromkeys(problems)), "command line") from None
    return scenario.model_copy(update={"scenario": checked})


def resolution_blocks(resolution: str) -> int | None:
    """K of 'blocks:K', or None for 'hourly'."""
    return None if resolution == "hourly" else int(resolution.split(":")[1])

