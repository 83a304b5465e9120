# syntax=docker/dockerfile:1
# The operator image for users with Docker: static (musl) builds of acp-cvo and ac in the `image` cargo
# profile, on an empty base holding only what scripts/image-rootfs.sh writes (a passwd and group entry for
# the non-root user 65532, the CA certificates). `make test` builds the same image without Docker, offline,
# into the OCI layout target/oci (scripts/image.sh).
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
ARG SOURCE_DATE_EPOCH=0
RUN cargo build --locked --profile image --target x86_64-unknown-linux-musl \
      -p acp-operator --bin acp-cvo -p acp-cli --bin ac \
 && bash scripts/image-rootfs.sh target/x86_64-unknown-linux-musl/image /rootfs

FROM scratch
COPY --from=build /rootfs/ /
ENV PATH=/usr/local/bin
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/acp-cvo"]
