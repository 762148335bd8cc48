import ipaddress

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def unmapped_address(address: Address) -> Address:
    """::ffff:a.b.c.d as a.b.c.d: a dual-stack listener reports IPv4 peers in the mapped form."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def unmapped_network(network: Network) -> Network:
    """::ffff:a.b.c.d/n (n >= 96) as a.b.c.d/(n - 96): the same addresses, written as the IPv4
    peers they are matched against."""
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def client_ip(request) -> str:
    """The address the request came from, IPv4-mapped addresses written as IPv4.

    REMOTE_ADDR, unless the peer is one of TRUSTED_PROXIES: then the right-most X-Forwarded-For
    entry that is not itself a trusted proxy. Entries left of that were written by the client
    and cannot be believed, so a client outside TRUSTED_PROXIES cannot choose its address.
    """
    remote = _canonical(request.META.get("REMOTE_ADDR", ""))
    if not settings.TRUSTED_PROXIES or not _trusted(remote):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if not _trusted(hop):
            return _canonical(hop) if _parse(hop) else remote
    return remote


def _parse(address: str) -> Address | None:
    try:
        return unmapped_address(ipaddress.ip_address(address))
    except ValueError:
        return None


def _canonical(address: str) -> str:
    parsed = _parse(address)
    return address if parsed is None else str(parsed)


def _trusted(address: str) -> bool:
    ip = _parse(address)
    if ip is None:
        return False
    return any(ip in unmapped_network(network) for network in settings.TRUSTED_PROXIES)
