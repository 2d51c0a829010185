"""The API door's fixtures come from tests/integration/api, the browser's from web."""

from tests.integration.api.conftest import clock  # noqa: F401
from tests.integration.web.conftest import signed_in  # noqa: F401
