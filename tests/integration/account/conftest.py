"""The API door's helpers come from tests/integration/api, the browser's from web."""

from tests.integration.api.conftest import clock  # noqa: F401
