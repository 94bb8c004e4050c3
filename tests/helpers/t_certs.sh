#!/usr/bin/env bash
# t_certs.sh - makes the certificates the TLS tests use, fresh each run,
# with validity windows relative to now: nothing is checked in, nothing
# expires in the repository.
#
#   bash tests/helpers/t_certs.sh DIR
#
# DIR must exist (a test's temporary directory). Written into it, each
# X.pem with its key X.key (PEM, unencrypted):
#
#   ca          test CA, ECDSA P-256, CN "ringprobe test CA", O "ringprobe
#               tests"; self-signed, now-2d .. now+60d. The trust anchor:
#               pass ca.pem as --cacert / -CAfile.
#   good        leaf for CN=localhost, SANs DNS:localhost, DNS:ringprobe.test,
#               IP:127.0.0.1, IP:::1; ECDSA P-256, signed by ca,
#               now-1d .. now+30d
#   expired     as good, now-30d .. now-1d (verify error 10)
#   notyet      as good, now+1d .. now+30d (verify error 9)
#   self        as good but self-signed (verify error 18)
#   wronghost   CN=other.example, SAN DNS:other.example only, signed by ca
#               (verify error 62 for a host name, 64 for an IP address)
#   rsa         as good with an RSA-2048 key
#   big         as good, but signed by the last of 12 intermediates
#               (int1 is signed by ca, int2 by int1, ...); each intermediate
#               carries a ~3 KB comment, so the chain is about 50 KB: well
#               over one TLS record (16 KiB) and under OpenSSL's default
#               max_cert_list (100 KiB), so it verifies with ca.pem
#   bigchain.pem  the 12 intermediates, int12 first: pass it as the
#               server's --chain with big.pem/big.key
#
# Also writes DIR/certs.tsv and prints the same to stdout: a header line,
# then one tab-separated line per certificate:
#   name  file  key  sha256  not_before  not_after  subject_cn  issuer_cn
# key is EC-256 or RSA-2048; sha256 is the leaf's DER fingerprint in
# lower-case hex without colons; dates are ISO 8601 UTC
# (2026-01-31T12:00:00Z), as read back from the certificate.
#
# Only the openssl command line is used (3.0: `openssl x509 -days` cannot
# make a window in the past, so every certificate is issued by `openssl ca`
# with -startdate/-enddate from a minimal config in DIR/ca.cnf).
# Takes about a second; exits 1 naming the failing step.
set -euo pipefail

dir=${1:?usage: t_certs.sh DIR}
if [ ! -d "$dir" ]; then
	echo "t_certs.sh: $dir: not a directory" >&2
	exit 1
fi
dir=$(cd "$dir" && pwd)
now=$(date -u +%s)
DAY=86400
NINT=12

# at SECONDS_FROM_NOW: an openssl ca date (GeneralizedTime).
at() { date -u -d "@$((now + $1))" +%Y%m%d%H%M%SZ; }

mkdir -p "$dir/ca.db/new"
: >"$dir/ca.db/index.txt"
GOOD_SAN="DNS:localhost,DNS:ringprobe.test,IP:127.0.0.1,IP:::1"
export RP_SAN=$GOOD_SAN
RP_PAD=$(printf 'ringprobe bigchain padding %.0s' $(seq 110))
export RP_PAD
cat >"$dir/ca.cnf" <<EOF
[ ca ]
default_ca = rp_ca

[ rp_ca ]
database = $dir/ca.db/index.txt
new_certs_dir = $dir/ca.db/new
serial = $dir/ca.db/serial
default_md = sha256
policy = rp_policy
unique_subject = no
copy_extensions = none
email_in_dn = no

[ rp_policy ]
commonName = supplied
organizationName = optional

[ v3_ca ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_int ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
nsComment = \$ENV::RP_PAD

[ v3_leaf ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = \$ENV::RP_SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

# run STEP CMD...: runs CMD quietly; on failure prints STEP and its output.
run() {
	local step=$1
	shift
	if ! "$@" >"$dir/step.log" 2>&1; then
		echo "t_certs.sh: $step failed: $*" >&2
		cat "$dir/step.log" >&2
		exit 1
	fi
}

# csr NAME KEYTYPE SUBJECT: a new key NAME.key and request NAME.csr.
csr() {
	local opts=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
	[ "$2" = rsa ] && opts=(-newkey rsa:2048)
	run "key $1" openssl req -new "${opts[@]}" -nodes \
		-keyout "$dir/$1.key" -subj "$3" -out "$dir/$1.csr"
}

# issue NAME ISSUER EXTENSIONS FROM TO: signs NAME.csr with ISSUER's key
# (ISSUER = NAME: self-signed), valid from now+FROM to now+TO seconds.
issue() {
	local name=$1 issuer=$2 ext=$3 from=$4 to=$5 sign
	if [ "$issuer" = "$name" ]; then
		sign=(-selfsign)
	else
		sign=(-cert "$dir/$issuer.pem")
	fi
	run "cert $name" openssl ca -batch -notext -config "$dir/ca.cnf" \
		-rand_serial -extensions "$ext" "${sign[@]}" \
		-keyfile "$dir/$issuer.key" -startdate "$(at "$from")" \
		-enddate "$(at "$to")" -in "$dir/$name.csr" -out "$dir/$name.pem"
	rm -f "$dir/$name.csr"
}

# leaf NAME ISSUER KEYTYPE FROM TO [CN SAN]
leaf() {
	local cn=${6:-localhost}
	RP_SAN=${7:-$GOOD_SAN}
	csr "$1" "$3" "/CN=$cn"
	issue "$1" "$2" v3_leaf "$4" "$5"
}

csr ca ec "/O=ringprobe tests/CN=ringprobe test CA"
issue ca ca v3_ca $((-2 * DAY)) $((60 * DAY))

leaf good ca ec $((-DAY)) $((30 * DAY))
leaf expired ca ec $((-30 * DAY)) $((-DAY))
leaf notyet ca ec $((DAY)) $((30 * DAY))
leaf self self ec $((-DAY)) $((30 * DAY))
leaf wronghost ca ec $((-DAY)) $((30 * DAY)) other.example DNS:other.example
leaf rsa ca rsa $((-DAY)) $((30 * DAY))

issuer=ca
: >"$dir/bigchain.pem"
for ((i = 1; i <= NINT; i++)); do
	csr "int$i" ec "/O=ringprobe tests/CN=ringprobe test intermediate $i"
	issue "int$i" "$issuer" v3_int $((-2 * DAY)) $((60 * DAY))
	cat "$dir/int$i.pem" "$dir/bigchain.pem" >"$dir/step.log"
	mv "$dir/step.log" "$dir/bigchain.pem"
	issuer=int$i
done
leaf big "$issuer" ec $((-DAY)) $((30 * DAY))

# facts FILE: the manifest line's fields after name and file, from one
# openssl call (the machine may be busy: each call costs ~0.1 s there).
facts() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 -startdate -enddate \
		-dateopt iso_8601 -subject -issuer -nameopt multiline -text |
		awk '
		function val() { v = $0; sub(/^[^=]*= */, "", v); return v }
		function iso(v) { sub(/ /, "T", v); return v }
		/ Fingerprint=/ { fp = tolower(val()); gsub(/:/, "", fp) }
		/^notBefore=/ { nb = iso(val()) }
		/^notAfter=/ { na = iso(val()) }
		/^subject=/ { part = "s" }
		/^issuer=/ { part = "i" }
		/^Certificate:/ { part = "" }
		part == "s" && $1 == "commonName" { subj = val() }
		part == "i" && $1 == "commonName" { iss = val() }
		/Public Key Algorithm: rsaEncryption/ { alg = "RSA" }
		/Public Key Algorithm: id-ecPublicKey/ { alg = "EC" }
		/Public-Key: \(/ { bits = $2; sub(/\(/, "", bits) }
		END { printf "%s-%s\t%s\t%s\t%s\t%s\t%s\n", alg, bits, fp, nb,
		      na, subj, iss }'
}

manifest() {
	local name
	printf 'name\tfile\tkey\tsha256\tnot_before\tnot_after\tsubject_cn\tissuer_cn\n'
	for name in ca good expired notyet self wronghost rsa big; do
		printf '%s\t%s\t%s\n' "$name" "$dir/$name.pem" \
			"$(facts "$dir/$name.pem")"
	done
}
manifest >"$dir/certs.tsv"
rm -f "$dir/step.log"
cat "$dir/certs.tsv"
