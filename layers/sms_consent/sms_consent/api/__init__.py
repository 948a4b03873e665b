"""HTTP routes (Powertools event_handler Routers) that the API functions include."""
