"""Request and response types of the JSON API (msgspec Structs), and how they are used.

- `codec`: decode a request body or query string into a type (one 422 shape for every
  validation failure) and encode a response from one.
- `operation`: the `@api(...)` declaration each /api/v1 endpoint carries; the OpenAPI
  document (server/openapi.py) is generated from these declarations and the route table.
- the other modules: the types, one module per area of the API.
"""
