"""The local status server: sockets, the HTTP wire format, the endpoints and the state views."""
