"""The client's address, as the audit log and the login throttle key see it.

X-Forwarded-For is believed only from a configured proxy (JIGSAW_TRUSTED_PROXIES): any
other peer could write what it likes there, to forge the audit trail or to dodge the
per-address throttle. Behind trusted proxies the client is the right-most address in
the header that is not itself a trusted proxy (each proxy appends the peer it saw).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.requests import HTTPConnection

Network = IPv4Network | IPv6Network


def is_trusted(host: str, proxies: tuple[Network, ...]) -> bool:
    address = _address(host)
    return address is not None and any(address in network for network in proxies)


def _address(host: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(host.strip().strip("[]"))
    except ValueError:
        return None


def forwarded_client(peer: str, forwarded_for: list[str], proxies: tuple[Network, ...]) -> str:
    """The address a chain of trusted proxies says the request came from."""
    client = peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        if not is_trusted(client, proxies):
            break
        if _address(hop) is None:
            break  # garbage in the header: keep the last address a trusted proxy vouched for
        client = str(_address(hop))
    return client


def client_address(conn: HTTPConnection, proxies: tuple[Network, ...]) -> str:
    """The direct peer, or (when that peer is a trusted proxy) the forwarded client."""
    peer = conn.client.host if conn.client else ""
    if not proxies or not is_trusted(peer, proxies):
        return peer
    return forwarded_client(peer, conn.headers.getlist("x-forwarded-for"), proxies)
