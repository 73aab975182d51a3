# liminal-tui in a container (README: "In a container").
#
#   docker build -t liminal-tui .
#   mkdir -p reports && docker run --rm --network=host -v "$PWD/reports:/reports" liminal-tui --run smoke -u 10
#
# BASE is any Debian-based image with python3 (3.11 or newer) and its venv module, in /usr/local (the
# official python images) or /usr (Debian's python3 + python3-venv) alike. bench/image.sh builds and
# checks the image with buildah on a Debian base made offline.
ARG BASE=python:3.13-slim

# ---- build: the wheel, and the app with every dependency installed into the venv /opt/venv ----
FROM ${BASE} AS build
# Optional extras of the package to install too, comma-separated (none by default).
ARG EXTRAS=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# strip (binutils) takes the debug symbols out of the wheels' C extensions: 25 MB, uvloop's alone 12 MB.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends binutils >/dev/null
WORKDIR /src
COPY pyproject.toml README.md ./
# liminal_tui/profiles is a link to ../profiles: both go in, and the wheel carries the shipped profiles.
COPY profiles ./profiles
COPY liminal_tui ./liminal_tui
RUN python3 -m venv /opt/build \
 && /opt/build/bin/pip wheel --no-deps --wheel-dir /dist . \
 && python3 -m venv /opt/venv \
 && wheel=$(echo /dist/liminal_tui-*.whl) \
 && /opt/venv/bin/pip install --only-binary=:all: "$wheel${EXTRAS:+[$EXTRAS]}" \
 && /opt/venv/bin/pip uninstall -y pip setuptools \
 && find /opt/venv -name '*.so' -exec strip --strip-debug {} + \
 && /opt/venv/bin/liminal-tui --validate smoke

# ---- runtime: the base, the venv, a non-root user; no pip, no compiler, no sources ----
FROM ${BASE}
LABEL org.opencontainers.image.title="liminal-tui" \
      org.opencontainers.image.description="Load testing for HTTP and WebSocket APIs, in the terminal" \
      org.opencontainers.image.licenses="MIT"
# The venv's python links to the base's python3, which is why both stages start from the same BASE.
COPY --from=build /opt/venv /opt/venv
# The working directory is /, so the CLI's defaults land on the two mount points: ./reports/ (where
# every run writes its report) is /reports and ./profiles/ (searched by name, where the app saves new
# profiles) is /profiles. The shipped profiles (smoke, load, stress, soak) are inside the package.
RUN useradd --uid 1000 --user-group --create-home --shell /usr/sbin/nologin liminal \
 && mkdir /reports /profiles \
 && chown liminal:liminal /reports /profiles
ENV PATH=/opt/venv/bin:$PATH \
    LANG=C.UTF-8 \
    TERM=xterm-256color \
    PYTHONUNBUFFERED=1
# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 1000:1000
WORKDIR /
VOLUME ["/reports"]
ENTRYPOINT ["liminal-tui"]
CMD []
