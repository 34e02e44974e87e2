"""Live sessions: one contract, three engines.

    engine.py     Engine: where sessions train (process, thread, ray); the settings and CLI read it
    contract.py   Session, Downloads, Outbox: what the routes, the registry and a session may ask
    local.py      LiveSession: the session itself (trainer, worker and measuring threads, history)
    downloads.py  SessionDownloads: a run's files, made beside the session from what it hands out
    networks.py   freezing the session's network and carrying it between processes
    outbox.py     ServerOutbox: what a websocket's send loop takes
    remote.py     RemoteSession (the server's handle) and SessionHost (beside the session elsewhere)
    process.py    SessionProcess: a session in a child process
    ray.py        RaySession: a session in a Ray actor
    factory.py    one SessionFactory per Engine: start, open, stop
"""
