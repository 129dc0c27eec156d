"""One worker of `ai-gateway --workers N` (app/supervisor.py starts it): serve the gateway on
the listening socket the supervisor bound and passed as a descriptor.

    python -m app.worker FD HOST PORT   (HOST and PORT only name the socket in the log)
"""

import socket
import sys

from app.main import load_settings
from app.server import configure_logging, serve


def main(argv: list[str]) -> None:
    fd, host, port = int(argv[0]), argv[1], int(argv[2])
    configure_logging()
    settings = load_settings()
    serve(settings, host, port, [socket.socket(fileno=fd)])


if __name__ == "__main__":
    main(sys.argv[1:])
