"""The kernel, below every domain and importing none: settings, embedded servers, the database
and Redis, the one error shape, the HTTP edge (endpoint declarations, parsing), users and tokens,
the clock, crypto, typed app keys and the Chinese labels of fields and codes."""
