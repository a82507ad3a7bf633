"""syncstate: the state of a folder tree as a two-way sync test compares it,
read the same way from a local Maildir and from our server: folder ->
sorted [(Subject, "flag flag", bytes with LF line ends)]. Shared by the
mbsync and offlineimap3 interop tests. Standard library only."""

import os
import re

MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}


def subject_of(data):
    m = re.search(rb"^Subject: (.*?)\r?$", data, re.M)
    return m.group(1).decode() if m else None


def entry(data, flags, clean=lambda d: d):
    """One message as compared: clean() drops a sync tool's own headers."""
    data = clean(data)
    return (subject_of(data), " ".join(sorted(flags)), data.replace(b"\r\n", b"\n"))


def maildir_files(root, folder):
    """[(path, maildir flag letters)] of a Maildir folder, new/ and cur/."""
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(root, folder, sub)
        for name in sorted(os.listdir(d)):
            out.append((os.path.join(d, name), name.split(":2,", 1)[1] if ":2," in name else ""))
    return out


def maildir_folder(root, folder, clean=lambda d: d):
    msgs = []
    for path, letters in maildir_files(root, folder):
        with open(path, "rb") as f:
            data = f.read()
        msgs.append(entry(data, [MAILDIR_FLAGS[c] for c in letters if c in MAILDIR_FLAGS], clean))
    return sorted(msgs)


def server_folder(w, folder, clean=lambda d: d):
    """The folder as a read-only session (imapwire.RawIMAP w) sees it."""
    _, tagged = w.cmd('EXAMINE "%s"' % folder)
    assert b" OK [READ-ONLY]" in tagged, tagged
    untagged, _ = w.cmd("FETCH 1:* (FLAGS BODY.PEEK[])")
    msgs = []
    for ln in untagged:
        if b" FETCH " not in ln:
            continue
        flags = re.search(rb"FLAGS \(([^)]*)\)", ln).group(1).decode().split()
        msgs.append(entry(ln[ln.index(b"}\r\n") + 3:-1], [f for f in flags if f != "\\Recent"], clean))
    return sorted(msgs)
