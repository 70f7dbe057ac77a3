# shellcheck shell=bash
# Podman set up the way ../shared/DEPLOY-CHECKS.md found to work on these machines (runc, cgroupfs,
# lowered rlimits, host network), with storage under $FORGE_DEPLOY_CACHE so the base image and the
# build's layer cache are reused across runs. Source after common.sh.

PODMAN_ROOT="$FORGE_DEPLOY_CACHE/podman"
BASE_IMAGE_LOCAL="localhost/debian-bookworm-minbase:12"
BASE_IMAGE_AS="docker.io/library/debian:bookworm-slim"

podman_setup() {
    # graphroot (images, layer cache) persists in the cache dir; runroot is runtime state and
    # belongs on tmpfs, so a reboot resets it as podman expects.
    PODMAN_RUN="${PODMAN_RUN:-/run/forge-deploy-podman}"
    mkdir -p "$PODMAN_ROOT/graph" "$PODMAN_RUN" "$PODMAN_ROOT/tmp"
    cat >"$PODMAN_ROOT/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=10000:10000", "nproc=4096:4096"]
netns = "host"
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
    cat >"$PODMAN_ROOT/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$PODMAN_ROOT/graph"
runroot = "$PODMAN_RUN"
EOF
    export CONTAINERS_CONF="$PODMAN_ROOT/containers.conf"
    export CONTAINERS_STORAGE_CONF="$PODMAN_ROOT/storage.conf"
    export TMPDIR="$PODMAN_ROOT/tmp"
    # No registry is reachable: never try one.
    export BUILDAH_ISOLATION=chroot
}

# ensure_base_image — debian:bookworm-slim made locally with debootstrap (minbase) once per machine.
ensure_base_image() {
    (
        flock 8
        if podman image exists "$BASE_IMAGE_AS"; then
            exit 0
        fi
        local rootfs="$FORGE_DEPLOY_CACHE/rootfs-bookworm"
        if [ ! -f "$FORGE_DEPLOY_CACHE/rootfs-bookworm.done" ]; then
            rm -rf "$rootfs"
            echo "making the base image with debootstrap (once per machine, ~30-60 s)…" >&2
            debootstrap --variant=minbase bookworm "$rootfs" >"$FORGE_DEPLOY_CACHE/debootstrap.log" 2>&1 || {
                tail -n 20 "$FORGE_DEPLOY_CACHE/debootstrap.log" >&2
                exit 1
            }
            # Like the real slim image: no apt lists or caches in the base.
            rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
            touch "$FORGE_DEPLOY_CACHE/rootfs-bookworm.done"
        fi
        tar -C "$rootfs" -c . | podman import - "$BASE_IMAGE_LOCAL" >/dev/null
        podman tag "$BASE_IMAGE_LOCAL" "$BASE_IMAGE_AS"
    ) 8>"$FORGE_DEPLOY_CACHE/base.lock"
}
