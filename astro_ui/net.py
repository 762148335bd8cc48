import ipaddress

from django.conf import settings


def client_ip(request) -> str:
    """The address the request came from.

    REMOTE_ADDR, unless the peer is one of TRUSTED_PROXIES: then the right-most X-Forwarded-For
    entry that is not itself a trusted proxy. Entries left of that were written by the client
    and cannot be believed, so a client outside TRUSTED_PROXIES cannot choose its address.
    """
    return client_ip_from(
        request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", "")
    )


def client_ip_from(remote: str, forwarded: str) -> str:
    """`client_ip` from the peer address and the X-Forwarded-For header, without a request."""
    if not settings.TRUSTED_PROXIES or not _trusted(remote):
        return remote
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if not _trusted(hop):
            return hop if _valid(hop) else remote
    return remote


def _valid(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXIES)
