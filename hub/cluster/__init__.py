"""Gateways and workers: ``roost serve app.py --workers N [--gateways M]``.

One supervisor process starts M gateway processes, which share the port
(``SO_REUSEPORT``) and hold every socket, and N worker processes, which run the objects
(each object in exactly one worker: its partition, fenced by a lock on its file).
Gateways and workers talk over Unix sockets (``wire``) in the messages of ``messages``.
Replacing the workers (``roost reload``, SIGHUP, a crash) closes no socket.

See docs/architecture.md for the picture.
"""
