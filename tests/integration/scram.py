"""scram: the client side of SCRAM-SHA-256 (RFC 5802, RFC 7677), written out
step by step with hashlib/hmac so the tests check the server against the RFC,
not against a library that might share its mistakes.

    c = ScramClient("alice", "password")
    first = c.client_first()                 # b"n,,n=alice,r=<nonce>"
    final = c.client_final(server_first)     # b"c=biws,r=<nonce>,p=<proof>"
    c.verify_server_final(server_final)      # raises ScramError on a bad v=
"""

import base64
import hashlib
import hmac
import secrets


class ScramError(Exception):
    pass


def _h(data):
    return hashlib.sha256(data).digest()


def _hmac(key, data):
    return hmac.new(key, data, hashlib.sha256).digest()


def saslname(user):
    return user.replace("=", "=3D").replace(",", "=2C")


def parse_attrs(msg):
    out = {}
    for part in msg.split(b","):
        if len(part) < 2 or part[1:2] != b"=":
            raise ScramError("malformed SCRAM attribute %r in %r" % (part, msg))
        out[part[:1].decode()] = part[2:]
    return out


class ScramClient:
    def __init__(self, user, password, nonce=None, gs2_header=b"n,,"):
        self.user = user
        self.password = password.encode()
        self.cnonce = (nonce or base64.b64encode(secrets.token_bytes(18)).decode()).encode()
        self.gs2 = gs2_header
        self.server_signature = None

    def client_first_bare(self):
        return b"n=" + saslname(self.user).encode() + b",r=" + self.cnonce

    def client_first(self):
        return self.gs2 + self.client_first_bare()

    def client_final(self, server_first, password=None, tamper_nonce=False):
        attrs = parse_attrs(server_first)
        for k in ("r", "s", "i"):
            if k not in attrs:
                raise ScramError("server-first lacks %s=: %r" % (k, server_first))
        nonce = attrs["r"]
        if not nonce.startswith(self.cnonce) or len(nonce) <= len(self.cnonce):
            raise ScramError("server nonce %r does not extend the client nonce %r" % (nonce, self.cnonce))
        salt = base64.b64decode(attrs["s"], validate=True)
        iterations = int(attrs["i"])
        if iterations < 4096:
            raise ScramError("iteration count %d below RFC 7677's 4096" % iterations)
        self.iterations = iterations
        if tamper_nonce:
            nonce = nonce[:-1] + (b"A" if nonce[-1:] != b"A" else b"B")
        pw = self.password if password is None else password.encode()
        salted = hashlib.pbkdf2_hmac("sha256", pw, salt, iterations)
        client_key = _hmac(salted, b"Client Key")
        stored_key = _h(client_key)
        without_proof = b"c=" + base64.b64encode(self.gs2) + b",r=" + nonce
        auth_message = self.client_first_bare() + b"," + server_first + b"," + without_proof
        client_signature = _hmac(stored_key, auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, client_signature))
        server_key = _hmac(salted, b"Server Key")
        self.server_signature = _hmac(server_key, auth_message)
        return without_proof + b",p=" + base64.b64encode(proof)

    def verify_server_final(self, server_final):
        attrs = parse_attrs(server_final)
        if "e" in attrs:
            raise ScramError("server reported error %r" % attrs["e"])
        if "v" not in attrs:
            raise ScramError("server-final lacks v=: %r" % server_final)
        got = base64.b64decode(attrs["v"], validate=True)
        if not hmac.compare_digest(got, self.server_signature):
            raise ScramError("server signature does not match (server does not know the password?)")
        return True


def b64(data):
    return base64.b64encode(data)


def unb64(data):
    return base64.b64decode(data, validate=True)
