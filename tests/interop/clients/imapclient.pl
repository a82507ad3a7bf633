#!/usr/bin/perl
# Drives cpm-store with Mail::IMAPClient (Debian libmail-imapclient-perl) the
# way a client library's user does: login over TLS, folders, select, search,
# fetch, store, append, copy, move, expunge. Prints one "key: value" line per
# step on stdout; tests/interop/test_imapclient.py compares them exactly.
# Usage: imapclient.pl HOST PORT CAFILE USER PASSWORD
use strict;
use warnings;
use Mail::IMAPClient;
use IO::Socket::SSL;

my ($host, $port, $ca, $user, $pass) = @ARGV;
die "usage: $0 HOST PORT CAFILE USER PASSWORD\n" unless defined $pass;
$| = 1;

my $imap = Mail::IMAPClient->new(
    Server => $host, Port => $port, Ssl => [SSL_ca_file => $ca, SSL_verifycn_name => 'localhost'],
    User => $user, Password => $pass, Uid => 1, Timeout => 20,
) or die "connect/login: $@\n";

sub out { print join(": ", @_), "\n" }
sub check { my ($what, $ok) = @_; die "$what failed: " . ($imap->LastError // '?') . "\n" unless $ok; $ok }

out("authenticated", $imap->IsAuthenticated ? "yes" : "no");
out("has UIDPLUS", $imap->has_capability("UIDPLUS") ? "yes" : "no");
out("has MOVE", $imap->has_capability("MOVE") ? "yes" : "no");
out("separator", $imap->separator("INBOX"));

check("create Projects", $imap->create("Projects"));
check("create Projects/2024", $imap->create("Projects/2024"));
check("create Archive", $imap->create("Archive"));
out("folders", join(",", sort @{ $imap->folders }));
out("exists Projects/2024", $imap->exists("Projects/2024") ? "yes" : "no");
out("exists Nowhere", $imap->exists("Nowhere") ? "yes" : "no");
check("subscribe", $imap->subscribe("Projects"));
out("subscribed", join(",", sort @{ $imap->subscribed }));

my @uids;
for my $i (1 .. 3) {
    my $msg = "From: perl\@example.com\r\nTo: $user\@example.com\r\nSubject: perl message $i\r\n"
        . "Message-ID: <perl$i\@example.com>\r\nDate: Mon, 4 Mar 2024 10:0$i:00 +0000\r\n"
        . "Content-Type: text/plain\r\n\r\nbody number $i " . ("x" x ($i * 10)) . "\r\n";
    my $uid = $imap->append_string("Projects", $msg, $i == 2 ? "\\Flagged" : undef,
                                   "04-Mar-2024 10:0$i:00 +0000");
    check("append $i", defined $uid);
    push @uids, $uid;
}
out("appended uids", join(",", @uids));

check("select", $imap->select("Projects"));
out("message_count", $imap->message_count("Projects"));
out("uidnext", $imap->uidnext("Projects"));
out("search all", join(",", $imap->search("ALL")));
out("search flagged", join(",", $imap->search("FLAGGED")));
out("search subject", join(",", $imap->search('SUBJECT "message 3"')));
out("search body", join(",", $imap->search('BODY "number 1"')));
out("search or", join(",", $imap->search('OR FLAGGED SUBJECT "message 3"')));
out("unseen", join(",", @{ $imap->unseen }));

out("subject 2", $imap->subject($uids[1]));
out("size 1", $imap->size($uids[0]));
out("date 3", $imap->internaldate($uids[2]));
my $h = $imap->parse_headers($uids[0], "From", "Message-ID");
out("headers 1", $h->{From}[0] . " " . $h->{"Message-ID"}[0]);
my $text = $imap->body_string($uids[2]);
$text =~ s/\r\n$//;
out("body 3", $text);
my $whole = $imap->message_string($uids[0]);
out("message 1 bytes", length($whole));
my $bs = $imap->get_bodystructure($uids[0]);
out("bodystructure 1", $bs ? lc($bs->bodytype . "/" . $bs->bodysubtype) : "none");
my $env = $imap->get_envelope($uids[1]);
out("envelope 2 subject", $env ? $env->subject : "none");

out("flags 1 after body fetch", join(" ", sort @{ $imap->flags($uids[0]) }));
check("set_flag", $imap->set_flag("\\Answered", $uids[0]));
check("see", $imap->see($uids[1]));
check("store keyword", $imap->store($uids[2], "+FLAGS", "(\$Label1)"));
out("flags 1", join(" ", sort @{ $imap->flags($uids[0]) }));
out("flags 2", join(" ", sort @{ $imap->flags($uids[1]) }));
out("flags 3", join(" ", sort @{ $imap->flags($uids[2]) }));
check("unset_flag", $imap->unset_flag("\\Flagged", $uids[1]));
out("flags 2 unset", join(" ", sort @{ $imap->flags($uids[1]) }));

my $copied = $imap->copy("Archive", $uids[0]);
check("copy", $copied);
out("copy uid", $copied);
# Mail::IMAPClient's move() is COPY + \Deleted; the EXPUNGE below removes it.
my $moved = $imap->move("Archive", $uids[1]);
check("move", $moved);
out("move uid", $moved);
out("after move", join(",", $imap->search("ALL")));

check("delete_message", $imap->delete_message($uids[2]));
check("expunge", $imap->expunge);
out("after expunge", join(",", $imap->search("ALL")));

check("select Archive", $imap->select("Archive"));
out("archive count", $imap->message_count);
out("archive subjects", join("|", map { $imap->subject($_) } $imap->search("ALL")));
out("archive flags", join("|", map { join(" ", sort @{ $imap->flags($_) }) } $imap->search("ALL")));
check("close", $imap->close);

check("rename", $imap->rename("Projects/2024", "Projects/2025"));
check("delete folder", $imap->delete("Projects/2025"));
out("folders end", join(",", sort @{ $imap->folders }));
my @st = grep { /^\* STATUS/ } $imap->status("Archive", "MESSAGES", "UIDNEXT", "UNSEEN");
$st[0] =~ s/\r?\n$// if @st;
out("status Archive", @st ? $st[0] : "none");
out("select missing", $imap->select("Nowhere") ? "ok" : "refused");
check("logout", $imap->logout);
out("done", "yes");
