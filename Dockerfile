# syntax=docker/dockerfile:1
# Static binaries (musl) on a distroless non-root base.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl -p acp-operator -p acp-cli \
 && mkdir /out && cp target/x86_64-unknown-linux-musl/release/acp-cvo target/x86_64-unknown-linux-musl/release/ac /out/

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/acp-cvo /usr/local/bin/acp-cvo
COPY --from=build /out/ac /usr/local/bin/ac
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/acp-cvo"]
