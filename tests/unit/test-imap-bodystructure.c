/*
 * Unit tests for common/imap-bodystructure: FETCH BODY and BODYSTRUCTURE.
 *
 * Every expected string below is exact. The corpus was checked against
 * Dovecot 2.3.19 (imap FETCH BODY / BODYSTRUCTURE on the same bytes): the
 * answers are equal value for value, except "bare_lf" (Dovecot counts each
 * bare LF as CRLF in sizes; we return and count bytes as stored) and
 * "empty_message" (Dovecot refuses to store it). Where a string holds 8-bit
 * bytes we write a literal, like Dovecot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap-bodystructure.h"
#include "mime-parse.h"

struct bs_case {
	const char *name;
	const char *msg;
	size_t len;
	const char *body;          /* FETCH BODY */
	const char *bodystructure; /* FETCH BODYSTRUCTURE */
};

static const struct bs_case cases[] = {
	{"plain_no_content_type",
		"Subject: hi\r\n"
		"From: A <a@b.c>\r\n"
		"\r\n"
		"hello\r\n",
		39,
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1)",
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1 NIL NIL NIL NIL)"},
	{"empty_message",
		"",
		0,
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"},
	{"header_only_no_blank_line",
		"Subject: no body\r\n"
		"X: y",
		22,
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"},
	{"body_only",
		"\r\n"
		"body only\r\n",
		13,
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 1)",
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 1 NIL NIL NIL NIL)"},
	{"nested_multipart_with_rfc822",
		"From: a@b\r\n"
		"Subject: outer\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
		"\r\n"
		"preamble\r\n"
		"--b1\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"\r\n"
		"body one\r\n"
		"--b1\r\n"
		"Content-Type: message/rfc822\r\n"
		"Content-Description: fwd\r\n"
		"\r\n"
		"From: inner@x\r\n"
		"Subject: inner\r\n"
		"Content-Type: multipart/alternative; boundary=b2\r\n"
		"\r\n"
		"--b2\r\n"
		"\r\n"
		"plain\r\n"
		"--b2\r\n"
		"Content-Type: text/html\r\n"
		"\r\n"
		"<p>x</p>\r\n"
		"--b2--\r\n"
		"inner epilogue\r\n"
		"--b1--\r\n"
		"epilogue\r\n",
		410,
		"((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 8 0)(\"message\" \"rfc822\" N"
		"IL NIL \"fwd\" \"7bit\" 163 (NIL \"inner\" ((NIL NIL \"inner\" \"x\")) ((NIL NIL \"inner\" "
		"\"x\")) ((NIL NIL \"inner\" \"x\")) NIL NIL NIL NIL NIL) ((\"text\" \"plain\" (\"charset\" "
		"\"us-ascii\") NIL NIL \"7bit\" 5 0)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \""
		"7bit\" 8 0) \"alternative\") 12) \"mixed\")",
		"((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 8 0 NIL NIL NIL NIL)(\"messag"
		"e\" \"rfc822\" NIL NIL \"fwd\" \"7bit\" 163 (NIL \"inner\" ((NIL NIL \"inner\" \"x\")) ((NI"
		"L NIL \"inner\" \"x\")) ((NIL NIL \"inner\" \"x\")) NIL NIL NIL NIL NIL) ((\"text\" \"plain"
		"\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL)(\"text\" \"html\" (\"ch"
		"arset\" \"us-ascii\") NIL NIL \"7bit\" 8 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \""
		"b2\") NIL NIL NIL) 12 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b1\") NIL NIL NIL)"},
	{"cpim_chat_message",
		"From: <sip:+4915112345@ims.example>\r\n"
		"To: <sip:+4915198765@ims.example>\r\n"
		"Date: Tue, 03 Jan 2023 10:00:00 +0000\r\n"
		"Subject: chat\r\n"
		"Conversation-ID: f81d4fae-7dec-11d0-a765-00a0c91e6bf6\r\n"
		"Contribution-ID: abcdef\r\n"
		"IMDN-Message-ID: UFoF32nXQSy\r\n"
		"Message-Direction: sent\r\n"
		"Content-Type: Message/CPIM\r\n"
		"\r\n"
		"From: <sip:+4915112345@ims.example>\r\n"
		"To: <sip:+4915198765@ims.example>\r\n"
		"NS: imdn <urn:ietf:params:imdn>\r\n"
		"imdn.Message-ID: UFoF32nXQSy\r\n"
		"DateTime: 2023-01-03T10:00:00.000Z\r\n"
		"imdn.Disposition-Notification: positive-delivery, display\r\n"
		"\r\n"
		"Content-Type: text/plain;charset=UTF-8\r\n"
		"Content-Length: 5\r\n"
		"\r\n"
		"Hallo\r\n",
		591,
		"(\"Message\" \"CPIM\" NIL NIL NIL \"7bit\" 300)",
		"(\"Message\" \"CPIM\" NIL NIL NIL \"7bit\" 300 NIL NIL NIL NIL)"},
	{"cpim_file_transfer_related",
		"From: <tel:+4915112345>\r\n"
		"To: <tel:+4915198765>\r\n"
		"Conversation-ID: c1\r\n"
		"Content-Type: multipart/related; boundary=\"next\";\r\n"
		" type=\"Message/CPIM\"; start=\"<cpim@x>\"\r\n"
		"\r\n"
		"--next\r\n"
		"Content-Type: Message/CPIM\r\n"
		"Content-ID: <cpim@x>\r\n"
		"\r\n"
		"From: <tel:+4915112345>\r\n"
		"NS: imdn <urn:ietf:params:imdn>\r\n"
		"\r\n"
		"Content-Type: application/vnd.gsma.rcs-ft-http+xml\r\n"
		"\r\n"
		"<?xml version=\"1.0\"?><file/>\r\n"
		"--next\r\n"
		"Content-Type: image/jpeg\r\n"
		"Content-ID: <img@x>\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"Content-Disposition: attachment; filename=\"pic.jpg\"\r\n"
		"\r\n"
		"/9j/4AAQSkZJRgABAQ==\r\n"
		"--next--\r\n",
		543,
		"((\"Message\" \"CPIM\" NIL \"<cpim@x>\" NIL \"7bit\" 142)(\"image\" \"jpeg\" NIL \"<img@x>\""
		" NIL \"base64\" 20) \"related\")",
		"((\"Message\" \"CPIM\" NIL \"<cpim@x>\" NIL \"7bit\" 142 NIL NIL NIL NIL)(\"image\" \"jpeg\""
		" NIL \"<img@x>\" NIL \"base64\" 20 NIL (\"attachment\" (\"filename\" \"pic.jpg\")) NIL NIL)"
		" \"related\" (\"boundary\" \"next\" \"type\" \"Message/CPIM\" \"start\" \"<cpim@x>\") NIL N"
		"IL NIL)"},
	{"thunderbird_alternative_attachment",
		"MIME-Version: 1.0\r\n"
		"From: =?UTF-8?B?SsO2cmc=?= <j@example.com>\r\n"
		"To: a@example.com\r\n"
		"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n"
		"Message-ID: <abc@example.com>\r\n"
		"Content-Type: multipart/mixed; boundary=\"------------A\"\r\n"
		"\r\n"
		"This is a multi-part message in MIME format.\r\n"
		"--------------A\r\n"
		"Content-Type: multipart/alternative; boundary=\"------------B\"\r\n"
		"\r\n"
		"--------------B\r\n"
		"Content-Type: text/plain; charset=UTF-8; format=flowed\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"\r\n"
		"Gr\303\274\303\237e\r\n"
		"\r\n"
		"--------------B\r\n"
		"Content-Type: text/html; charset=UTF-8\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"\r\n"
		"<html><body>Gr\303\274\303\237e</body></html>\r\n"
		"\r\n"
		"--------------B--\r\n"
		"\r\n"
		"--------------A\r\n"
		"Content-Type: application/pdf; name=\"doc.pdf\"\r\n"
		"Content-Disposition: attachment; filename=\"doc.pdf\"\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"JVBERi0xLjQK\r\n"
		"--------------A--\r\n",
		794,
		"(((\"text\" \"plain\" (\"charset\" \"UTF-8\" \"format\" \"flowed\") NIL NIL \"8bit\" 9 1)(\""
		"text\" \"html\" (\"charset\" \"UTF-8\") NIL NIL \"8bit\" 35 1) \"alternative\")(\"applicati"
		"on\" \"pdf\" (\"name\" \"doc.pdf\") NIL NIL \"base64\" 12) \"mixed\")",
		"(((\"text\" \"plain\" (\"charset\" \"UTF-8\" \"format\" \"flowed\") NIL NIL \"8bit\" 9 1 NI"
		"L NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"UTF-8\") NIL NIL \"8bit\" 35 1 NIL NIL NIL "
		"NIL) \"alternative\" (\"boundary\" \"------------B\") NIL NIL NIL)(\"application\" \"pdf\" "
		"(\"name\" \"doc.pdf\") NIL NIL \"base64\" 12 NIL (\"attachment\" (\"filename\" \"doc.pdf\")"
		") NIL NIL) \"mixed\" (\"boundary\" \"------------A\") NIL NIL NIL)"},
	{"multipart_without_boundary",
		"Content-Type: multipart/mixed\r\n"
		"\r\n"
		"--x\r\n"
		"A: b\r\n"
		"\r\n"
		"hi\r\n"
		"--x--\r\n",
		57,
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")",
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mix"
		"ed\" NIL NIL NIL NIL)"},
	{"boundary_never_found",
		"Content-Type: multipart/mixed; boundary=zz\r\n"
		"\r\n"
		"--x\r\n"
		"A: b\r\n"
		"\r\n"
		"hi\r\n"
		"--x--\r\n",
		70,
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")",
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mix"
		"ed\" (\"boundary\" \"zz\") NIL NIL NIL)"},
	{"missing_close_delimiter",
		"Content-Type: multipart/mixed; boundary=x\r\n"
		"\r\n"
		"pre\r\n"
		"--x\r\n"
		"A: b\r\n"
		"\r\n"
		"hi\r\n"
		"--x\r\n"
		"\r\n"
		"second\r\n",
		82,
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0)(\"text\" \"plain\" (\""
		"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 1) \"mixed\")",
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0 NIL NIL NIL NIL)(\"tex"
		"t\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 1 NIL NIL NIL NIL) \"mixed\" (\""
		"boundary\" \"x\") NIL NIL NIL)"},
	{"missing_close_nested",
		"Content-Type: multipart/mixed; boundary=o\r\n"
		"\r\n"
		"--o\r\n"
		"Content-Type: multipart/alternative; boundary=i\r\n"
		"\r\n"
		"--i\r\n"
		"\r\n"
		"A\r\n"
		"--i\r\n"
		"\r\n"
		"B\r\n"
		"--o\r\n"
		"\r\n"
		"C\r\n",
		131,
		"(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0)(\"text\" \"plain\" ("
		"\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"alternative\")(\"text\" \"plain\" (\"char"
		"set\" \"us-ascii\") NIL NIL \"7bit\" 3 1) \"mixed\")",
		"(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL)(\"te"
		"xt\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"alternati"
		"ve\" (\"boundary\" \"i\") NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NI"
		"L \"7bit\" 3 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"o\") NIL NIL NIL)"},
	{"boundary_prefix_and_junk",
		"Content-Type: multipart/mixed; boundary=x\r\n"
		"\r\n"
		"--x\r\n"
		"Content-Type: text/html\r\n"
		"--x  \r\n"
		"A: b\r\n"
		"\r\n"
		"c\r\n"
		"--xyz\r\n"
		"d\r\n"
		"--x--junk\r\n"
		"--x\r\n"
		"after close\r\n",
		132,
		"((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)(\"text\" \"plain\" (\""
		"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\")"
		" NIL NIL \"7bit\" 0 0) \"mixed\")",
		"((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)(\"text"
		"\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL)(\"text\" \"pl"
		"ain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"boundar"
		"y\" \"x\") NIL NIL NIL)"},
	{"inner_boundary_extends_outer",
		"Content-Type: multipart/mixed; boundary=ab\r\n"
		"\r\n"
		"--ab\r\n"
		"Content-Type: multipart/mixed; boundary=abc\r\n"
		"\r\n"
		"--abc\r\n"
		"\r\n"
		"inner\r\n"
		"--ab\r\n"
		"\r\n"
		"outer2\r\n"
		"--ab--\r\n",
		139,
		"(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0) \"mixed\")(\"text\" "
		"\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 0) \"mixed\")",
		"(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL) \"mi"
		"xed\" (\"boundary\" \"abc\") NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL"
		" NIL \"7bit\" 6 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"ab\") NIL NIL NIL)"},
	{"empty_parts_and_lines",
		"Content-Type: multipart/mixed; boundary=x\r\n"
		"\r\n"
		"--x\r\n"
		"\r\n"
		"hello\r\n"
		"--x\r\n"
		"\r\n"
		"hello\r\n"
		"\r\n"
		"--x\r\n"
		"\r\n"
		"\r\n"
		"--x\r\n"
		"\r\n"
		"--x--\r\n"
		"epi\r\n",
		103,
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0)(\"text\" \"plain\" (\""
		"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1)(\"text\" \"plain\" (\"charset\" \"us-ascii\")"
		" NIL NIL \"7bit\" 0 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) "
		"\"mixed\")",
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL)(\"tex"
		"t\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1 NIL NIL NIL NIL)(\"text\" \"p"
		"lain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)(\"text\" \"plain\" "
		"(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \""
		"x\") NIL NIL NIL)"},
	{"extension_data",
		"Content-Type: text/plain; charset=x\r\n"
		"Content-Transfer-Encoding: Base64 (c)\r\n"
		"Content-ID: <id@x> \r\n"
		"Content-Description: =?utf-8?q?d=C3=A9?= x \r\n"
		"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
		"Content-Disposition: Attachment; FileName=\"a b.txt\"; size=3\r\n"
		"Content-Language: en-US, fr (c)\r\n"
		"Content-Location: http://x/y\r\n"
		"\r\n"
		"aGk=",
		311,
		"(\"text\" \"plain\" (\"charset\" \"x\") \"<id@x> \" \"=?utf-8?q?d=C3=A9?= x \" \"Base64\" 4"
		" 0)",
		"(\"text\" \"plain\" (\"charset\" \"x\") \"<id@x> \" \"=?utf-8?q?d=C3=A9?= x \" \"Base64\" 4"
		" 0 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"Attachment\" (\"FileName\" \"a b.txt\" \"size\" \"3\")) "
		"(\"en-US\" \"fr\") \"http://x/y\")"},
	{"first_field_wins_but_disposition_language",
		"Content-Type: text/plain\r\n"
		"Content-ID: a\r\n"
		"Content-ID: b\r\n"
		"Content-Description: \303\251\r\n"
		"Content-Disposition: attachment;\r\n"
		"Content-Language: en;fr\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"Content-Disposition: inline\r\n"
		"\r\n"
		"hi",
		241,
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"a\" {2}\r\n"
		"\303\251 \"8bit\" 2 0)",
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"a\" {2}\r\n"
		"\303\251 \"8bit\" 2 0 NIL (\"inline\" NIL) (\"en\") NIL)"},
	{"no_mime_version_ignores_content_fields",
		"Content-Transfer-Encoding: base64\r\n"
		"Content-Disposition: inline\r\n"
		"Content-Language: en\r\n"
		"\r\n"
		"hi",
		90,
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0)",
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0 NIL NIL NIL NIL)"},
	{"mime_version_keeps_content_fields",
		"MIME-Version: 1.0\r\n"
		"Content-Transfer-Encoding: quoted-printable garbage\r\n"
		"Content-Disposition: inline\r\n"
		"Content-Language: en\r\n"
		"Content-Location: a\r\n"
		" b\r\n"
		"\r\n"
		"hi",
		152,
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0)",
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0 NIL (\"inline\" NIL) (\""
		"en\") \"a b\")"},
	{"content_type_case_and_params",
		"Content-Type: TEXT/Plain; CharSet=\"UTF-8\"; Format=flowed (c); x=\"a\\\\\\\"b\"\r\n"
		"\r\n"
		"hi",
		78,
		"(\"TEXT\" \"Plain\" (\"CharSet\" \"UTF-8\" \"Format\" \"flowed\" \"x\" \"a\\\\\\\"b\") NIL "
		"NIL \"7bit\" 2 0)",
		"(\"TEXT\" \"Plain\" (\"CharSet\" \"UTF-8\" \"Format\" \"flowed\" \"x\" \"a\\\\\\\"b\") NIL "
		"NIL \"7bit\" 2 0 NIL NIL NIL NIL)"},
	{"content_type_type_only",
		"Content-Type: text\r\n"
		"\r\n"
		"hi",
		24,
		"(\"text\" \"\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0)",
		"(\"text\" \"\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0 NIL NIL NIL NIL)"},
	{"content_type_broken",
		"Content-Type: text/plain garbage; charset=x\r\n"
		"\r\n"
		"hi",
		49,
		"(\"\" \"\" NIL NIL NIL \"7bit\" 2)",
		"(\"\" \"\" NIL NIL NIL \"7bit\" 2 NIL NIL NIL NIL)"},
	{"content_type_empty",
		"Content-Type:\r\n"
		"\r\n"
		"hi",
		19,
		"(\"\" \"\" NIL NIL NIL \"7bit\" 2)",
		"(\"\" \"\" NIL NIL NIL \"7bit\" 2 NIL NIL NIL NIL)"},
	{"params_broken_recovery",
		"Content-Type: text/plain; charset=x garbage; a=b; =y;; c\r\n"
		"\r\n"
		"hi",
		62,
		"(\"text\" \"plain\" (\"charset\" \"x\" \"a\" \"b\" \"\" \"y\") NIL NIL \"7bit\" 2 0)",
		"(\"text\" \"plain\" (\"charset\" \"x\" \"a\" \"b\" \"\" \"y\") NIL NIL \"7bit\" 2 0 NIL NIL"
		" NIL NIL)"},
	{"rfc2231_continuations",
		"Content-Type: application/octet-stream;\r\n"
		"\tname*0*=UTF-8''%E2%82%AC;\r\n"
		"\tname*1*=%20rates.txt; title*0=\"a\"; title*1=\"b\"; x*0=1; x*2=3\r\n"
		"\r\n"
		"x",
		135,
		"(\"application\" \"octet-stream\" (\"name*\" \"UTF-8''%E2%82%AC%20rates.txt\" \"title\" \"a"
		"b\" \"x*0\" \"1\" \"x*2\" \"3\") NIL NIL \"7bit\" 1)",
		"(\"application\" \"octet-stream\" (\"name*\" \"UTF-8''%E2%82%AC%20rates.txt\" \"title\" \"a"
		"b\" \"x*0\" \"1\" \"x*2\" \"3\") NIL NIL \"7bit\" 1 NIL NIL NIL NIL)"},
	{"rfc2231_mixed_segments",
		"Content-Type: application/octet-stream; name*0*=utf-8''%C3%A9; name*1=\"x y%.txt\"\r\n"
		"\r\n"
		"hi",
		86,
		"(\"application\" \"octet-stream\" (\"name*\" \"utf-8''%C3%A9x y%25.txt\") NIL NIL \"7bit\" "
		"2)",
		"(\"application\" \"octet-stream\" (\"name*\" \"utf-8''%C3%A9x y%25.txt\") NIL NIL \"7bit\" "
		"2 NIL NIL NIL NIL)"},
	{"digest_default_rfc822",
		"Content-Type: multipart/digest; boundary=d\r\n"
		"\r\n"
		"--d\r\n"
		"\r\n"
		"Subject: s1\r\n"
		"\r\n"
		"b1\r\n"
		"--d\r\n"
		"Content-Type: text/plain\r\n"
		"\r\n"
		"b2\r\n"
		"--d--\r\n",
		116,
		"((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 17 (NIL \"s1\" NIL NIL NIL NIL NIL NIL NIL NI"
		"L) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0) 2)(\"text\" \"plain"
		"\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0) \"digest\")",
		"((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 17 (NIL \"s1\" NIL NIL NIL NIL NIL NIL NIL NI"
		"L) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0 NIL NIL NIL NIL) 2 N"
		"IL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0 NIL NIL "
		"NIL NIL) \"digest\" (\"boundary\" \"d\") NIL NIL NIL)"},
	{"top_level_rfc822",
		"Content-Type: MESSAGE/RFC822\r\n"
		"\r\n"
		"Subject: in\r\n"
		"\r\n"
		"body\r\n",
		53,
		"(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 21 (NIL \"in\" NIL NIL NIL NIL NIL NIL NIL NIL"
		") (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1) 3)",
		"(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 21 (NIL \"in\" NIL NIL NIL NIL NIL NIL NIL NIL"
		") (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL) 3 NI"
		"L NIL NIL NIL)"},
	{"rfc822_empty_body",
		"Content-Type: multipart/mixed; boundary=x\r\n"
		"\r\n"
		"--x\r\n"
		"Content-Type: message/rfc822\r\n"
		"\r\n"
		"--x--\r\n",
		89,
		"((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ("
		"\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 0) \"mixed\")",
		"((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ("
		"\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 0 NIL N"
		"IL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)"},
	{"rfc822_embedded_mime_version",
		"Content-Type: multipart/mixed; boundary=x\r\n"
		"\r\n"
		"--x\r\n"
		"Content-Disposition: inline\r\n"
		"Content-ID: <c>\r\n"
		"\r\n"
		"c\r\n"
		"--x\r\n"
		"Content-Type: message/rfc822\r\n"
		"\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-ID: <d>\r\n"
		"Subject: s\r\n"
		"\r\n"
		"b\r\n"
		"--x--\r\n",
		198,
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<c>\" NIL \"7bit\" 1 0)(\"message\" \"rfc"
		"822\" NIL NIL NIL \"7bit\" 51 (NIL \"s\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain"
		"\" (\"charset\" \"us-ascii\") \"<d>\" NIL \"7bit\" 1 0) 4) \"mixed\")",
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<c>\" NIL \"7bit\" 1 0 NIL (\"inline\" NI"
		"L) NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 51 (NIL \"s\" NIL NIL NIL NIL NIL N"
		"IL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<d>\" NIL \"7bit\" 1 0 NIL NIL"
		" NIL NIL) 4 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)"},
	{"same_boundary_nested",
		"Content-Type: multipart/mixed; boundary=x\r\n"
		"\r\n"
		"--x\r\n"
		"Content-Type: message/rfc822\r\n"
		"\r\n"
		"Content-Type: multipart/mixed; boundary=x\r\n"
		"\r\n"
		"--x\r\n"
		"\r\n"
		"in\r\n"
		"--x--\r\n",
		145,
		"((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 63 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0) \"mixed\") 6) \"mixed"
		"\")",
		"((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 63 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0 NIL NIL NIL NIL) \"mix"
		"ed\" (\"boundary\" \"x\") NIL NIL NIL) 6 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NI"
		"L NIL NIL)"},
	{"message_global_is_a_leaf",
		"Content-Type: message/global\r\n"
		"\r\n"
		"Subject: g\r\n"
		"\r\n"
		"body\r\n",
		52,
		"(\"message\" \"global\" NIL NIL NIL \"7bit\" 20)",
		"(\"message\" \"global\" NIL NIL NIL \"7bit\" 20 NIL NIL NIL NIL)"},
	{"eight_bit_values",
		"From: J\303\266rg <j@x>\r\n"
		"Subject: Gr\303\274\303\237e\r\n"
		"Content-Type: text/plain; name=\303\251.txt\r\n"
		"\r\n"
		"b",
		79,
		"(\"text\" \"plain\" (\"name\" {6}\r\n"
		"\303\251.txt \"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0)",
		"(\"text\" \"plain\" (\"name\" {6}\r\n"
		"\303\251.txt \"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL)"},
	{"nul_in_header",
		"Content-Type: text/plain; a=\"x\000y\"\r\n"
		"Content-ID: <a\000b>\r\n"
		"\r\n"
		"body\000\r\n",
		63,
		"(\"text\" \"plain\" (\"a\" {5}\r\n"
		"x\357\277\275y \"charset\" \"us-ascii\") {7}\r\n"
		"<a\357\277\275b> NIL \"7bit\" 7 1)",
		"(\"text\" \"plain\" (\"a\" {5}\r\n"
		"x\357\277\275y \"charset\" \"us-ascii\") {7}\r\n"
		"<a\357\277\275b> NIL \"7bit\" 7 1 NIL NIL NIL NIL)"},
	{"header_blank_line_before_boundary",
		"Content-Type: multipart/mixed; boundary=o\r\n"
		"\r\n"
		"--o\r\n"
		"--o\r\n"
		"X: y\r\n"
		"--o\r\n"
		"\r\n"
		"--o--",
		73,
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)(\"text\" \"plain\" (\""
		"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\")"
		" NIL NIL \"7bit\" 0 0) \"mixed\")",
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)(\"tex"
		"t\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)(\"text\" \"p"
		"lain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"bounda"
		"ry\" \"o\") NIL NIL NIL)"},
	{"close_delimiter_then_outer",
		"Content-Type: multipart/mixed; boundary=o\r\n"
		"\r\n"
		"--o\r\n"
		"Content-Type: multipart/mixed; boundary=p\r\n"
		"\r\n"
		"--p\r\n"
		"\r\n"
		"x\r\n"
		"--p--\r\n"
		"--o--",
		117,
		"(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\") \"mixed\""
		")",
		"(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"mi"
		"xed\" (\"boundary\" \"p\") NIL NIL NIL) \"mixed\" (\"boundary\" \"o\") NIL NIL NIL)"},
	{"plain_7bit_written_as_default",
		"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
		"Content-Transfer-Encoding: 7BIT\r\n"
		"\r\n"
		"hi",
		81,
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0)",
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0 NIL NIL NIL NIL)"},
	{"plain_with_content_id_keeps_case",
		"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
		"Content-ID: <x>\r\n"
		"\r\n"
		"hi",
		65,
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") \"<x>\" NIL \"7bit\" 2 0)",
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") \"<x>\" NIL \"7bit\" 2 0 NIL NIL NIL NIL)"},
	{"bare_lf",
		"Subject: lf\n"
		"Content-Type: multipart/mixed; boundary=x\n"
		"\n"
		"--x\n"
		"Content-Type: text/plain\n"
		"\n"
		"line1\n"
		"line2\n"
		"--x--\n",
		103,
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 1) \"mixed\")",
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 1 NIL NIL NIL NIL) \"mi"
		"xed\" (\"boundary\" \"x\") NIL NIL NIL)"},
};

static void write_both(const struct mime_tree *t, uint32_t part, struct buf *body, struct buf *bs)
{
	assert_int_equal(imap_bodystructure_write(body, t, part, false), 0);
	assert_int_equal(imap_bodystructure_write(bs, t, part, true), 0);
}

/* Parses, writes, and writes again from a serialised + deserialised copy:
 * the back-end stores the tree, FETCH writes from the stored copy. */
static void check_case(const struct bs_case *c)
{
	struct mime_tree *t = NULL, *t2 = NULL;
	struct buf body = {0}, bs = {0}, ser = {0};
	print_message("case %s\n", c->name);
	assert_int_equal(mime_parse((const unsigned char *)c->msg, c->len, &t), 0);
	write_both(t, 0, &body, &bs);
	assert_string_equal((const char *)body.data, c->body);
	assert_string_equal((const char *)bs.data, c->bodystructure);

	assert_int_equal(mime_tree_serialize(t, &ser), 0);
	assert_int_equal(mime_tree_deserialize(ser.data, ser.len, &t2), 0);
	buf_reset(&body);
	buf_reset(&bs);
	write_both(t2, 0, &body, &bs);
	assert_string_equal((const char *)body.data, c->body);
	assert_string_equal((const char *)bs.data, c->bodystructure);

	buf_free(&body);
	buf_free(&bs);
	buf_free(&ser);
	mime_tree_free(&t);
	mime_tree_free(&t2);
	assert_null(t);
}

static void test_corpus(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
}

/* RFC 3501 7.4.2 gives this BODY example; build a message with that shape. */
static void test_rfc3501_example(void **state)
{
	struct buf m = {0};
	assert_int_equal(buf_append_str(&m, "MIME-Version: 1.0\r\nContent-Type: MULTIPART/MIXED; BOUNDARY=\"b\"\r\n\r\n"
					    "--b\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
					    "Content-Transfer-Encoding: 7BIT\r\n\r\n"),
			 0);
	/* 1152 bytes in 23 lines */
	for (int i = 0; i < 22; i++)
		assert_int_equal(buf_append_str(&m, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"), 0);
	for (int i = 0; i < 1152 - 22 * 51 - 2; i++)
		assert_int_equal(buf_append_byte(&m, 'y'), 0);
	assert_int_equal(buf_append_str(&m, "\r\n\r\n--b\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff\r\n"
					    "Content-ID: <960723163407.20117h@cac.washington.edu>\r\n"
					    "Content-Description: Compiler diff\r\nContent-Transfer-Encoding: BASE64\r\n\r\n"),
			 0);
	/* 4554 bytes in 73 lines */
	for (int i = 0; i < 72; i++)
		assert_int_equal(buf_append_str(&m, "QUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJD\r\n"), 0);
	for (int i = 0; i < 4554 - 72 * 62 - 2; i++)
		assert_int_equal(buf_append_byte(&m, 'A'), 0);
	assert_int_equal(buf_append_str(&m, "\r\n\r\n--b--\r\n"), 0);

	struct mime_tree *t;
	struct buf body = {0}, bs = {0};
	assert_int_equal(mime_parse(m.data, m.len, &t), 0);
	write_both(t, 0, &body, &bs);
	assert_string_equal((const char *)body.data,
			    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)"
			    "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
			    "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73) \"MIXED\")");
	assert_string_equal((const char *)bs.data,
			    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23 NIL NIL NIL NIL)"
			    "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
			    "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73 NIL NIL NIL NIL)"
			    " \"MIXED\" (\"BOUNDARY\" \"b\") NIL NIL NIL)");
	buf_free(&body);
	buf_free(&bs);
	buf_free(&m);
	mime_tree_free(&t);
}

/* A part other than the root: its own structure (what BODY[1.2] is). */
static void test_sub_parts(void **state)
{
	const char *msg = cases[4].msg; /* nested_multipart_with_rfc822 */
	struct mime_tree *t;
	struct buf o = {0};
	assert_string_equal(cases[4].name, "nested_multipart_with_rfc822");
	assert_int_equal(mime_parse((const unsigned char *)msg, strlen(msg), &t), 0);
	assert_int_equal(t->n_parts, 6);
	assert_int_equal(imap_bodystructure_write(&o, t, 1, true), 0);
	assert_string_equal((const char *)o.data,
			    "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 8 0 NIL NIL NIL NIL)");
	buf_reset(&o);
	/* part 3 is the embedded message, a multipart/alternative */
	assert_int_equal(imap_bodystructure_write(&o, t, 3, false), 0);
	assert_string_equal((const char *)o.data,
			    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0)"
			    "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 0) \"alternative\")");
	buf_reset(&o);
	assert_int_equal(imap_bodystructure_write_envelope(&o, t, 3), 0);
	assert_string_equal((const char *)o.data, "(NIL \"inner\" ((NIL NIL \"inner\" \"x\")) ((NIL NIL \"inner\" \"x\")) "
						  "((NIL NIL \"inner\" \"x\")) NIL NIL NIL NIL NIL)");
	buf_reset(&o);
	/* a part that is not a message has no envelope of its own */
	assert_int_equal(imap_bodystructure_write_envelope(&o, t, 1), 0);
	assert_string_equal((const char *)o.data, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	buf_reset(&o);
	assert_int_equal(imap_bodystructure_write(&o, t, 6, true), -1);
	assert_int_equal(imap_bodystructure_write_envelope(&o, t, 6), -1);
	buf_free(&o);
	mime_tree_free(&t);
}

/* Nesting beyond MIME_MAX_DEPTH: the part at the limit has no children and
 * is written as a multipart with one empty text/plain part. */
static void test_depth_limit(void **state)
{
	struct buf m = {0}, o = {0};
	for (int i = 0; i < 150; i++)
		assert_int_equal(buf_printf(&m, "Content-Type: multipart/mixed; boundary=b%03d\r\n\r\n--b%03d\r\n", i, i), 0);
	assert_int_equal(buf_append_str(&m, "\r\nleaf\r\n"), 0);
	struct mime_tree *t;
	assert_int_equal(mime_parse(m.data, m.len, &t), 0);
	assert_int_equal(t->n_parts, MIME_MAX_DEPTH + 1);
	assert_int_equal(t->parts[MIME_MAX_DEPTH].depth, MIME_MAX_DEPTH);
	assert_int_equal(t->parts[MIME_MAX_DEPTH].n_children, 0);
	assert_int_equal(imap_bodystructure_write(&o, t, 0, false), 0);
	struct buf want = {0};
	for (int i = 0; i < MIME_MAX_DEPTH + 1; i++)
		assert_int_equal(buf_append_byte(&want, '('), 0);
	assert_int_equal(buf_append_str(&want, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"), 0);
	for (int i = 0; i < MIME_MAX_DEPTH + 1; i++)
		assert_int_equal(buf_append_str(&want, " \"mixed\")"), 0);
	assert_int_equal(o.len, want.len);
	assert_memory_equal(o.data, want.data, want.len);
	buf_free(&want);
	buf_free(&m);
	buf_free(&o);
	mime_tree_free(&t);
}

/* message/rfc822 nested past the limit: the deepest one is written with an
 * empty envelope and an empty body, still valid RFC 3501 syntax. Its body
 * is the remaining 19 headers of 32 bytes and "x": 609 bytes, 38 lines. */
static void test_rfc822_depth_limit(void **state)
{
	struct buf m = {0}, o = {0};
	for (int i = 0; i < 120; i++)
		assert_int_equal(buf_append_str(&m, "Content-Type: message/rfc822\r\n\r\n"), 0);
	assert_int_equal(buf_append_str(&m, "x"), 0);
	struct mime_tree *t;
	assert_int_equal(mime_parse(m.data, m.len, &t), 0);
	assert_int_equal(t->n_parts, MIME_MAX_DEPTH + 1);
	assert_int_equal(imap_bodystructure_write(&o, t, MIME_MAX_DEPTH, true), 0);
	assert_string_equal((const char *)o.data,
			    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 609 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
			    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 38 "
			    "NIL NIL NIL NIL)");
	buf_free(&m);
	buf_free(&o);
	mime_tree_free(&t);
}

/* More than MIME_MAX_PARTS parts: the first ones are kept. */
static void test_part_limit(void **state)
{
	struct buf m = {0}, o = {0};
	assert_int_equal(buf_append_str(&m, "Content-Type: multipart/mixed; boundary=x\r\n\r\n"), 0);
	for (int i = 0; i < MIME_MAX_PARTS + 50; i++)
		assert_int_equal(buf_append_str(&m, "--x\r\n\r\nz\r\n"), 0);
	assert_int_equal(buf_append_str(&m, "--x--\r\n"), 0);
	struct mime_tree *t;
	assert_int_equal(mime_parse(m.data, m.len, &t), 0);
	assert_int_equal(t->n_parts, MIME_MAX_PARTS);
	assert_int_equal(t->parts[0].n_children, MIME_MAX_PARTS - 1);
	assert_int_equal(imap_bodystructure_write(&o, t, 0, false), 0);
	const char *one = "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0)";
	assert_int_equal(o.len, 1 + (MIME_MAX_PARTS - 1) * strlen(one) + strlen(" \"mixed\")"));
	buf_free(&m);
	buf_free(&o);
	mime_tree_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_rfc3501_example),
		cmocka_unit_test(test_sub_parts),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_rfc822_depth_limit),
		cmocka_unit_test(test_part_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
