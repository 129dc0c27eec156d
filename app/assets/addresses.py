"""Which IP addresses the asset fetcher may reach: globally routable unicast only.

- Numeric hosts are read with inet_aton/WHATWG rules (`2130706433`, `0177.0.0.1`, `0x7f.1`,
  `127.1`), so the address checked is the one a browser or the OS would reach; the request then
  goes to its canonical spelling, so nothing downstream reads the number again.
- IPv6 that embeds IPv4 (mapped, compatible, NAT64 64:ff9b::/96, 6to4, Teredo) is judged by
  the embedded addresses. Local-use NAT64 (64:ff9b:1::/48) is refused outright: where it
  embeds the address depends on a local prefix length. Other public IPv6 is 2000::/3 minus
  the special blocks in it. Python's `is_global` is consulted as well, but not trusted alone:
  3.11 calls multicast global.
"""

import ipaddress
import re

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NUMBER_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")

# IANA special-purpose blocks; 0/8 holds the unspecified address, 169.254/16 cloud metadata,
# 192.88.99/24 the 6to4 relays, 198.18/15 benchmarking, 240/4 the broadcast address.
_NON_PUBLIC_V4 = tuple(
    ipaddress.IPv4Network(cidr)
    for cidr in (
        *("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16"),
        *("172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16"),
        *("198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4"),
    )
)
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_NON_PUBLIC_V6 = tuple(
    ipaddress.IPv6Network(cidr) for cidr in ("2001::/23", "2001:db8::/32", "3fff::/20")
)
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_LOW32_EMBEDDING = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("::/96"))


def _embedded_v4(addr: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    if addr.ipv4_mapped is not None:
        return (addr.ipv4_mapped,)
    if any(addr in net for net in _LOW32_EMBEDDING):
        return (ipaddress.IPv4Address(int(addr) & 0xFFFF_FFFF),)
    if addr.sixtofour is not None:
        return (addr.sixtofour,)
    if addr.teredo is not None:
        return addr.teredo  # traffic may reach either the server or the client address
    return ()


def is_public(addr: IPAddress) -> bool:
    """Whether the address is globally routable unicast, judging embedded IPv4 by itself."""
    if isinstance(addr, ipaddress.IPv4Address):
        return not any(addr in net for net in _NON_PUBLIC_V4) and addr.is_global
    if addr in _NAT64_LOCAL:
        return False
    embedded = _embedded_v4(addr)
    if embedded:
        return all(is_public(v4) for v4 in embedded)
    return (
        addr in _GLOBAL_UNICAST_V6
        and not any(addr in net for net in _NON_PUBLIC_V6)
        and addr.is_global
    )


def parse_ipv4_host(host: str) -> ipaddress.IPv4Address | None:
    """The address a numeric host denotes (WHATWG/inet_aton), None for a DNS name.

    Raises ValueError for a host that ends in a number but is no valid address ("1.2.3.999").
    """
    parts = host.split(".")
    if len(parts) > 1 and not parts[-1]:
        parts.pop()  # one trailing dot, as in a fully qualified name
    if not _NUMBER_LABEL.fullmatch(parts[-1]):
        return None
    if len(parts) > 4 or not all(_NUMBER_LABEL.fullmatch(part) for part in parts):
        raise ValueError(host)
    numbers = [_parse_number(part) for part in parts]
    last = numbers.pop()
    if any(n > 255 for n in numbers) or last >= 256 ** (4 - len(numbers)):
        raise ValueError(host)
    return ipaddress.IPv4Address(sum(n << (24 - 8 * i) for i, n in enumerate(numbers)) + last)


def _parse_number(part: str) -> int:
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part[1:], 8)
    return int(part)
