"""HTTP: the app factory, routers, auth, problem details, the stream and the wallboard."""
