# mptcpctl — build, test, demo, install.
# `make test` and `make demo` install the Debian packages they need first.

PREFIX ?= /usr/local
DESTDIR ?=
SWIFT ?= swift
BINDIR = $(DESTDIR)$(PREFIX)/bin
MANDIR = $(DESTDIR)$(PREFIX)/share/man/man8

# Debian packages the build, the tests and the demo use.
DEBIAN_PACKAGES = libnl-genl-3-dev libnl-route-3-dev pkg-config iproute2 python3 groff-base man-db util-linux procps

.PHONY: all deps build release test demo bench install uninstall lint-man clean

all: build

# Installs missing Debian packages (as root); does nothing when all are present.
deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@command -v $(SWIFT) >/dev/null || { echo "a Swift 6 toolchain must be on PATH (swift.org)"; exit 1; }

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release -Xswiftc -static-executable

lint-man:
	@out=$$(groff -ww -man -z man/mptcpctl.8 2>&1); if [ -n "$$out" ]; then echo "$$out"; exit 1; fi
	@echo "man/mptcpctl.8: groff -ww -man -z clean"

# The full suite: unit tests and real-kernel tests in throw-away namespaces.
test: build lint-man
	MPTCPCTL_BIN=$(CURDIR)/.build/debug/mptcpctl $(SWIFT) test

demo: release
	MPTCPCTL=$(CURDIR)/.build/release/mptcpctl bash scripts/demo

bench: release
	MPTCPCTL=$(CURDIR)/.build/release/mptcpctl bash scripts/bench-endpoint-show

install: release
	install -d $(BINDIR) $(MANDIR)
	install -s -m 0755 .build/release/mptcpctl $(BINDIR)/mptcpctl
	install -m 0644 man/mptcpctl.8 $(MANDIR)/mptcpctl.8

uninstall:
	rm -f $(BINDIR)/mptcpctl $(MANDIR)/mptcpctl.8

clean:
	rm -rf .build
