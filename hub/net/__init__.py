"""The network front: sockets, HTTP and WebSocket serving."""
