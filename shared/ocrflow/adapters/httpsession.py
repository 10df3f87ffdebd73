"""The ``requests`` session behind every outgoing HTTP call (the OCR client, the ``obs://``
store), built one way. The environment (proxies, CA bundle) is read when the session is built
and once per origin, not on every request: requests would rescan ``os.environ`` and look for
``~/.netrc`` each time (about 0.4 ms a call)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests


def new_session(pool_maxsize: int) -> requests.Session:
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    session.trust_env = False
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def proxies_for(cache: dict[str, dict[str, str]], url: str) -> dict[str, str]:
    """HTTP(S)_PROXY / NO_PROXY from the environment for the origin of ``url``, looked up once
    per ``cache``."""
    origin = "/".join(url.split("/", 3)[:3])
    proxies = cache.get(origin)
    if proxies is None:
        from requests.utils import get_environ_proxies

        proxies = cache[origin] = dict(get_environ_proxies(origin + "/"))
    return proxies
