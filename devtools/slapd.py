"""A real LDAP directory for the tests: Debian's OpenLDAP slapd, run on a free port.

It runs from a slapd.conf of its own in a temporary folder (its data in memory-mapped
files there), as a child of its owner; the Debian service is never touched. Entries are
added with python-ldap, so each test says what the directory holds.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import ldap
import ldap.modlist

from devtools.broker import free_port
from devtools.processes import child_start

SLAPD = Path("/usr/sbin/slapd")
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
SUFFIX = "dc=acme,dc=test"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"

CONF = """\
{includes}
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {folder}/slapd.pid
database mdb
maxsize 67108864
suffix "{suffix}"
rootdn "cn=admin,{suffix}"
rootpw {password}
directory {folder}/data
access to attrs=userPassword by self auth by anonymous auth by * none
access to * by users read by * none
"""


class SlapdError(RuntimeError):
    """slapd is missing or did not start; says why."""


class LocalLdap:
    """slapd on 127.0.0.1 with the suffix dc=acme,dc=test, people and groups under it."""

    def __init__(self, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="slapd-"))
        self.password = "admin-" + self.folder.name[-8:]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """ldap://127.0.0.1:port"""
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def admin_dn(self) -> str:
        """The directory's root DN (it may write everything)."""
        return f"cn=admin,{SUFFIX}"

    def start(self, *, timeout: float = 30) -> str:
        """Write the config, start slapd, add the suffix's entries; returns the URI."""
        if not SLAPD.exists():
            raise SlapdError("slapd is not installed: `make setup-dev` installs Debian's slapd")
        (self.folder / "data").mkdir()
        includes = "\n".join(f"include /etc/ldap/schema/{name}.schema" for name in SCHEMAS)
        conf = self.folder / "slapd.conf"
        conf.write_text(
            CONF.format(
                includes=includes, folder=self.folder, suffix=SUFFIX, password=self.password
            )
        )
        log = (self.folder / "slapd.log").open("ab")
        # -d 0: stay in the foreground (a child of ours), logging nothing but failures.
        self.process = child_start(
            [str(SLAPD), "-f", str(conf), "-h", f"{self.uri}/", "-d", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise SlapdError(
                    f"slapd exited with code {self.process.returncode}: "
                    + (self.folder / "slapd.log").read_text(errors="replace")[-2000:]
                )
            try:
                self.connection().unbind_s()
                break
            except ldap.SERVER_DOWN:
                if time.monotonic() > deadline:
                    raise SlapdError(f"slapd did not answer within {timeout:.0f} s") from None
                time.sleep(0.1)
        self.add(SUFFIX, objectClass=["dcObject", "organization"], dc=["acme"], o=["Acme"])
        for dn in (PEOPLE, GROUPS):
            self.add(dn, objectClass=["organizationalUnit"], ou=[dn.split(",")[0][3:]])
        return self.uri

    def connection(self) -> ldap.ldapobject.LDAPObject:
        """A connection bound as the root DN."""
        conn = ldap.initialize(self.uri)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 5)
        conn.simple_bind_s(self.admin_dn, self.password)
        return conn

    def add(self, dn: str, **attrs: list[str]) -> None:
        """Add one entry."""
        conn = self.connection()
        try:
            conn.add_s(
                dn,
                ldap.modlist.addModlist({k: [v.encode() for v in vs] for k, vs in attrs.items()}),
            )
        finally:
            conn.unbind_s()

    def user_add(self, uid: str, password: str) -> str:
        """A person under ou=people; returns its DN."""
        dn = f"uid={uid},{PEOPLE}"
        self.add(
            dn,
            objectClass=["inetOrgPerson"],
            uid=[uid],
            cn=[uid.title()],
            givenName=[uid.title()],
            sn=["Test"],
            mail=[f"{uid}@example.test"],
            userPassword=[password],
        )
        return dn

    def group_add(self, name: str, members: list[str]) -> str:
        """A groupOfNames under ou=groups with these member DNs; returns its DN."""
        dn = f"cn={name},{GROUPS}"
        # groupOfNames needs a member: the root DN holds its place, so the last person
        # can be taken out too.
        self.add(dn, objectClass=["groupOfNames"], cn=[name], member=[self.admin_dn, *members])
        return dn

    def member_add(self, group: str, member: str) -> None:
        """Put a member DN in a group."""
        conn = self.connection()
        try:
            conn.modify_s(f"cn={group},{GROUPS}", [(ldap.MOD_ADD, "member", [member.encode()])])
        finally:
            conn.unbind_s()

    def member_remove(self, group: str, member: str) -> None:
        """Take a member DN out of a group."""
        conn = self.connection()
        try:
            conn.modify_s(f"cn={group},{GROUPS}", [(ldap.MOD_DELETE, "member", [member.encode()])])
        finally:
            conn.unbind_s()

    def running(self) -> bool:
        """Whether slapd is alive."""
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Stop slapd and remove its folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        shutil.rmtree(self.folder, ignore_errors=True)
