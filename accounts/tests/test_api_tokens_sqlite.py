"""Personal API tokens on SQLite, the database `make run` uses without DATABASE_URL.

The suite runs on PostgreSQL, where the token lookup is a raw, prepared
query; SQLite takes the ORM path. A subprocess runs the real settings on a
fresh SQLite file.
"""

import json

import pytest

from cryptomonitor.testing.sqlite_project import sqlite_manage

REQUESTS = """
import json
from django.contrib.auth import get_user_model
from django.test import Client
from accounts.models import ApiToken
user = get_user_model().objects.create_user("sqlite-script", password="unused-Pass-123")
_, key = ApiToken.issue(user, "script")
client = Client(HTTP_AUTHORIZATION=f"Token {key}")
# The second request reads the last_used_at the first one wrote.
print(json.dumps([client.get("/api/v1/alerts/").status_code for _ in range(2)]))
"""


@pytest.mark.slow
def test_a_token_authenticates_request_after_request_on_sqlite(tmp_path):
    manage = sqlite_manage(tmp_path / "db.sqlite3", ALLOWED_HOSTS="testserver")

    manage("migrate", "--noinput", "-v", "0")
    statuses = json.loads(manage("shell", "-c", REQUESTS).strip().splitlines()[-1])

    assert statuses == [200, 200]
