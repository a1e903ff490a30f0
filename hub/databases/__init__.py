"""Database objects: per-tenant SQLite databases over HTTP and ``roost.v1``, with tokens,
table verbs, migrations and change feeds (docs/databases.md).

``settings`` (limits, the reserved binding), ``tokens`` (minting, hashing), ``where_sql``
and ``tables`` (the verbs' SQL, pure), ``engine`` (running verbs on a file), ``catalog``
(tokens and facts in the file), ``migrations`` (``hub.migrate``), ``database_object``
(the built-in class) and ``gate`` (the front's side: routes, admin API, listing).
"""
