import warnings

import authlib.deprecate  # noqa: F401  (its own "always" filter first: ours, added after, wins)

# authlib 1.9 warns on import that its httpx integration moves to "httpx2" (server/sso.py
# uses its Starlette client); a newcomer's `make demo` should not open on that warning.
warnings.filterwarnings("ignore", message=r"The httpx module is deprecated")
