#!/usr/bin/env bash
# Makes a local debian:bookworm-slim base image with debootstrap, for machines that
# reach a Debian mirror but no image registry. The mirror is the one this machine's
# apt sources name; nothing here names a host.
#
#   docker/base-image.sh [--force]    (root; needs debootstrap and podman)
#
# Idempotent: does nothing when the tag already exists (unless --force). The image is
# like the official slim one: minbase, no documentation, man pages or locales, no apt
# caches or lists, and apt sources for bookworm, bookworm-updates and the security
# suite taken from this machine.
set -euo pipefail

tag="${STEADYLOOP_BASE_TAG:-debian:bookworm-slim}"
suite=bookworm
force=0
[[ "${1:-}" == "--force" ]] && force=1

if [[ $(id -u) -ne 0 ]]; then
  echo "base-image.sh: debootstrap needs root" >&2
  exit 1
fi
if [[ $force -eq 0 ]] && podman image exists "$tag"; then
  echo "base-image.sh: $tag exists"
  exit 0
fi

# The URIs of this machine's apt sources (deb822 .sources and one-line .list files).
apt_uris() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; break } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk 'tolower($1) == "enabled:" && tolower($2) == "no" { skip = 1 }
         /^[ \t]*$/ { if (!skip) for (u in uris) print uris[u]; delete uris; skip = 0; next }
         tolower($1) == "uris:" { for (i = 2; i <= NF; i++) uris[i] = $i }
         END { if (!skip) for (u in uris) print uris[u] }' "$f"
  done
}
# The Debian archive: a URI ending in /debian; the security archive: /debian-security.
mirror=$(apt_uris | grep -E '/debian/?$' | head -n1 || true)
security=$(apt_uris | grep -E '/debian-security/?$' | head -n1 || true)
if [[ -z "$mirror" ]]; then
  echo "base-image.sh: no Debian mirror (a URI ending in /debian) in /etc/apt/sources*" >&2
  exit 1
fi
mirror="${mirror%/}"
security="${security%/}"
echo "base-image.sh: debootstrap --variant=minbase $suite from $mirror"

work=$(mktemp -d /var/tmp/steadyloop-rootfs.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"

# The slim image's dpkg filter, in place before the first package is unpacked.
mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# Documentation, man pages and locales are not needed in a container image.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF

include=()
# apt in the image needs the CA certificates to reach an https mirror at all.
[[ "$mirror" == https:* ]] && include=(--include=ca-certificates)
debootstrap --variant=minbase --components=main "${include[@]}" "$suite" "$root" "$mirror/" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  echo "base-image.sh: debootstrap failed" >&2
  exit 1
}

# apt sources like the official image's, from this machine's mirrors.
rm -f "$root/etc/apt/sources.list"
{
  printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" "$suite" "$suite"
  if [[ -n "$security" ]]; then
    printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$security" "$suite"
  fi
} >"$root/etc/apt/sources.list.d/debian.sources"

# apt settings of the official image: no caches kept, no translations, no recommends.
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
echo 'APT::Install-Recommends "false";' >"$root/etc/apt/apt.conf.d/docker-no-recommends"
# A mirror this machine accepts with an old Release date is accepted in the image too.
for opt in Acquire::Check-Valid-Until Acquire::Check-Date; do
  if [[ "$(apt-config dump "$opt" | awk '{print $2}')" == '"false";' ]]; then
    echo "$opt \"false\";" >>"$root/etc/apt/apt.conf.d/docker-mirror"
  fi
done

# What the filter would have kept out, had it been there for debootstrap's first stage.
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$root"/usr/share/{man,info,groff,lintian,linda,locale}/* \
  "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
  "$root"/var/log/* "$root"/tmp/* "$root"/root/.cache 2>/dev/null || true
# The container runtime provides these.
: >"$root/etc/resolv.conf"
: >"$root/etc/hostname"
rm -f "$root/etc/machine-id" && : >"$root/etc/machine-id"

tar --numeric-owner --xattrs -C "$root" -c . |
  podman import --quiet --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$tag" >/dev/null
echo "base-image.sh: $tag imported ($(podman image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
