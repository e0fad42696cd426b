"""The use cases between HTTP and storage: one module per area, each function one request.

Routes parse, call one function here and render; these functions own the transaction (one unit
of work per request) and scope every read and write to the caller's site. Nothing above this
layer (`api/`, `sim/`) imports SQLAlchemy or `store/`."""
