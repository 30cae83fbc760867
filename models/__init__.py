"""Option modules. Each adds its own variables, constraints and terms to a `Core`.

Adding an option is adding a module here and naming it in `OPTIONS`.
"""

from models import ai, generation, grid, hosting, mining

OPTIONS = (grid, mining, hosting, ai, generation)
