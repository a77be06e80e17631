# mptcpctl — build, test, demo, install.
# `make test` and `make demo` install the Debian packages they need first.

PREFIX ?= /usr/local
DESTDIR ?=
SWIFT ?= swift
BINDIR = $(DESTDIR)$(PREFIX)/bin
MANDIR = $(DESTDIR)$(PREFIX)/share/man
SYSCONFDIR ?= /etc
CONFDIR = $(DESTDIR)$(SYSCONFDIR)/mptcpctl
UNITDIR ?= $(DESTDIR)/etc/systemd/system
MANPAGES = man/mptcpctl.8 man/mptcpctld.8 man/mptcpctld.toml.5

# Debian packages the build, the tests and the demo use.
DEBIAN_PACKAGES = libnl-genl-3-dev libnl-route-3-dev pkg-config iproute2 python3 groff-base man-db util-linux procps

.PHONY: all deps build release test demo bench bench-daemon install uninstall lint-man clean

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
	@for page in $(MANPAGES); do \
	  out=$$(groff -ww -man -z $$page 2>&1); if [ -n "$$out" ]; then echo "$$page:"; echo "$$out"; exit 1; fi; \
	  echo "$$page: groff -ww -man -z clean"; \
	done

# The full suite: unit tests and real-kernel tests in throw-away namespaces.
test: build lint-man
	MPTCPCTL_BIN=$(CURDIR)/.build/debug/mptcpctl MPTCPCTLD_BIN=$(CURDIR)/.build/debug/mptcpctld $(SWIFT) test

demo: release
	MPTCPCTL=$(CURDIR)/.build/release/mptcpctl MPTCPCTLD=$(CURDIR)/.build/release/mptcpctld bash scripts/demo

bench: release
	MPTCPCTL=$(CURDIR)/.build/release/mptcpctl bash scripts/bench-endpoint-show
	MPTCPCTLD=$(CURDIR)/.build/release/mptcpctld bash scripts/bench-daemon-latency
	python3 scripts/bench-api.py --mptcpctl $(CURDIR)/.build/release/mptcpctl --mptcpctld $(CURDIR)/.build/release/mptcpctld
	python3 scripts/bench-userspace-pm.py --mptcpctld $(CURDIR)/.build/release/mptcpctld

install: release
	install -d $(BINDIR) $(MANDIR)/man8 $(MANDIR)/man5 $(CONFDIR)
	install -s -m 0755 .build/release/mptcpctl $(BINDIR)/mptcpctl
	install -s -m 0755 .build/release/mptcpctld $(BINDIR)/mptcpctld
	install -m 0644 man/mptcpctl.8 man/mptcpctld.8 $(MANDIR)/man8/
	install -m 0644 man/mptcpctld.toml.5 $(MANDIR)/man5/
	@# The admin's policy is never overwritten.
	@if [ -e $(CONFDIR)/mptcpctld.toml ]; then \
	  echo "keeping $(CONFDIR)/mptcpctld.toml (the shipped default is config/mptcpctld.toml)"; \
	else install -m 0644 config/mptcpctld.toml $(CONFDIR)/mptcpctld.toml; fi
	@if [ -d $(dir $(UNITDIR)) ] || [ -n "$(DESTDIR)" ]; then \
	  install -d $(UNITDIR) && sed 's|/usr/local/bin/mptcpctld|$(PREFIX)/bin/mptcpctld|' config/mptcpctld.service > $(UNITDIR)/mptcpctld.service && \
	  echo "installed $(UNITDIR)/mptcpctld.service (systemctl daemon-reload; systemctl enable --now mptcpctld)"; \
	fi

uninstall:
	rm -f $(BINDIR)/mptcpctl $(BINDIR)/mptcpctld $(MANDIR)/man8/mptcpctl.8 $(MANDIR)/man8/mptcpctld.8 \
	  $(MANDIR)/man5/mptcpctld.toml.5 $(UNITDIR)/mptcpctld.service
	@echo "left $(CONFDIR)/mptcpctld.toml in place"

clean:
	rm -rf .build
