# mptcpctl — build, test, demo, install.
# `make test` and `make demo` install the Debian packages they need first.

PREFIX ?= /usr/local
DESTDIR ?=
SWIFT ?= swift
BINDIR = $(DESTDIR)$(PREFIX)/bin
MANDIR = $(DESTDIR)$(PREFIX)/share/man
# Debug info of the installed binaries, kept apart (the binaries are stripped
# and name it in a .gnu_debuglink): $(DEBUGDIR)$(PREFIX)/bin/NAME.debug, the
# layout gdb searches under its debug-file-directory (/usr/lib/debug for PREFIX=/usr).
DEBUGDIR ?= $(PREFIX)/lib/debug
DEBUGBINDIR = $(DESTDIR)$(DEBUGDIR)$(PREFIX)/bin
SYSCONFDIR ?= /etc
CONFDIR = $(DESTDIR)$(SYSCONFDIR)/mptcpctl
UNITDIR ?= $(DESTDIR)/etc/systemd/system
MANPAGES = man/mptcpctl.8 man/mptcpctld.8 man/mptcpctld.toml.5

# Debian packages the build, the tests and the demo use.
DEBIAN_PACKAGES = libnl-genl-3-dev libnl-route-3-dev pkg-config iproute2 python3 groff-base man-db util-linux procps systemd nftables iputils-ping binutils prometheus tmux

.PHONY: all deps build release test demo bench bench-path-health bench-observability bench-daemon footprint install install-files uninstall lint-man clean fuzz fuzz-corpus test-sanitize soak

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

# The whole suite, kernel tests included, under AddressSanitizer and then
# ThreadSanitizer (each in a build folder of its own, .build-SANITIZER). Swift's
# crash backtracer is off: under ASan it can hang a crashed process instead of
# letting it end with the sanitizer's report.
SANITIZERS ?= address thread
# LeakSanitizer is off unless ASAN_LEAKS=1: the daemon and the CLI end with
# exit() while the objects of their run are still referenced from async frames
# already freed, which it reports as leaks (growth is what the soak measures).
# With ASAN_LEAKS=1, Tests/sanitizers/lsan.supp hides the leaks of TOMLKit and
# Foundation that such a run finds.
ASAN_LEAKS ?= 0
test-sanitize: deps lint-man
	@for s in $(SANITIZERS); do \
	  echo "== make test-sanitize: $$s"; \
	  $(SWIFT) build --build-tests --sanitize=$$s --scratch-path .build-$$s || exit 1; \
	  SWIFT_BACKTRACE=enable=no MPTCPCTL_SANITIZER=$$s ASAN_OPTIONS=detect_leaks=$(ASAN_LEAKS) \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/sanitizers/lsan.supp:print_suppressions=0 MPTCPCTL_BIN=$(CURDIR)/.build-$$s/debug/mptcpctl MPTCPCTLD_BIN=$(CURDIR)/.build-$$s/debug/mptcpctld \
	    $(SWIFT) test --skip-build --sanitize=$$s --scratch-path .build-$$s || exit 1; \
	done

# A long lab scenario (scripts/robustness/soak.py): churn, flaps, reloads, API polling;
# fails on unmanaged connections, RSS or descriptor growth, a dead daemon.
DURATION ?= 120
soak: build
	python3 scripts/robustness/soak.py --duration $(DURATION) --mptcpctld $(CURDIR)/.build/debug/mptcpctld --mptcpctl $(CURDIR)/.build/debug/mptcpctl

# libFuzzer targets (Tests/Fuzz) for the netlink, sock_diag, policy and
# control-request decoders, FUZZ_SECONDS each (default 60).
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) SWIFT=$(SWIFT) bash scripts/robustness/fuzz

# Re-captures the netlink seeds (Tests/Fuzz/Seeds) from the running kernel.
fuzz-corpus: deps
	python3 scripts/robustness/fuzz-corpus.py --out Tests/Fuzz/Seeds

demo: release
	MPTCPCTL=$(CURDIR)/.build/release/mptcpctl MPTCPCTLD=$(CURDIR)/.build/release/mptcpctld bash scripts/lab/demo

# BASELINE=DIR (a folder with an earlier mptcpctl and mptcpctld, e.g. the
# release build of the commit before a change): the API and userspace-PM
# benchmarks measure it too, in the same run, and print after/before ratios.
BASELINE ?=
bench: release
	MPTCPCTL=$(CURDIR)/.build/release/mptcpctl bash scripts/bench/endpoint-show
	MPTCPCTLD=$(CURDIR)/.build/release/mptcpctld bash scripts/bench/daemon-latency
	python3 scripts/bench/api.py --mptcpctl $(CURDIR)/.build/release/mptcpctl --mptcpctld $(CURDIR)/.build/release/mptcpctld $(if $(BASELINE),--baseline $(BASELINE))
	python3 scripts/bench/userspace-pm.py --mptcpctld $(CURDIR)/.build/release/mptcpctld $(if $(BASELINE),--baseline $(BASELINE)/mptcpctld)
	python3 scripts/bench/path-health.py --mptcpctld $(CURDIR)/.build/release/mptcpctld $(if $(QUICK),--quick)
	python3 scripts/bench/observability.py --mptcpctl $(CURDIR)/.build/release/mptcpctl --mptcpctld $(CURDIR)/.build/release/mptcpctld $(if $(QUICK),--quick)

# Only the path-health benchmark (a blackholed uplink on the realistic lab; the
# full run takes 90 minutes to 3 hours, QUICK=1 about 10 minutes: scripts/bench/path-health.py --help).
bench-path-health: release
	python3 scripts/bench/path-health.py --mptcpctld $(CURDIR)/.build/release/mptcpctld $(if $(QUICK),--quick)

# Only the observability-overhead benchmark: the daemon's CPU with 1 000 live
# MPTCP connections, without and then with /metrics scraped every second and
# `mptcpctl top` running (QUICK=1: shorter phases; scripts/bench/observability.py --help).
bench-observability: release
	python3 scripts/bench/observability.py --mptcpctl $(CURDIR)/.build/release/mptcpctl --mptcpctld $(CURDIR)/.build/release/mptcpctld $(if $(QUICK),--quick)

# Installed sizes of the release binaries, the idle daemon's RSS and threads
# (scripts/bench/footprint measures, builds nothing).
footprint: release
	python3 scripts/bench/footprint --mptcpctl $(CURDIR)/.build/release/mptcpctl --mptcpctld $(CURDIR)/.build/release/mptcpctld

# What `make install` builds from; `install-files` installs without building
# (BINARIES=.build/debug for a quick look, as the tests do).
BINARIES ?= .build/release
COMPLETIONS = $(DESTDIR)$(PREFIX)/share
NMDISPATCHDIR ?= /etc/NetworkManager/dispatcher.d

install: release install-files

install-files:
	install -d $(BINDIR) $(MANDIR)/man8 $(MANDIR)/man5 $(CONFDIR)
	@# Hooks (mptcpctld(8), HOOKS): an empty directory, root's only.
	install -d -m 0755 $(CONFDIR)/hooks.d
	@# Stripped binaries; their debug info goes to $(DEBUGBINDIR)/NAME.debug.
	install -d $(DEBUGBINDIR)
	@for b in mptcpctl mptcpctld; do \
	  objcopy --only-keep-debug $(BINARIES)/$$b $(DEBUGBINDIR)/$$b.debug && chmod 0644 $(DEBUGBINDIR)/$$b.debug && \
	  objcopy --strip-all --add-gnu-debuglink=$(DEBUGBINDIR)/$$b.debug $(BINARIES)/$$b $(BINDIR)/.$$b.new && \
	  chmod 0755 $(BINDIR)/.$$b.new && mv -f $(BINDIR)/.$$b.new $(BINDIR)/$$b || exit 1; \
	done
	install -m 0644 man/mptcpctl.8 man/mptcpctld.8 $(MANDIR)/man8/
	install -m 0644 man/mptcpctld.toml.5 $(MANDIR)/man5/
	@# The admin's policy is never overwritten.
	@if [ -e $(CONFDIR)/mptcpctld.toml ]; then \
	  echo "keeping $(CONFDIR)/mptcpctld.toml (the shipped default is config/mptcpctld.toml)"; \
	else install -m 0644 config/mptcpctld.toml $(CONFDIR)/mptcpctld.toml; fi
	@# Shell completions, generated by swift-argument-parser.
	install -d $(COMPLETIONS)/bash-completion/completions $(COMPLETIONS)/zsh/vendor-completions $(COMPLETIONS)/fish/vendor_completions.d
	$(BINARIES)/mptcpctl --generate-completion-script bash > $(COMPLETIONS)/bash-completion/completions/mptcpctl
	$(BINARIES)/mptcpctl --generate-completion-script zsh > $(COMPLETIONS)/zsh/vendor-completions/_mptcpctl
	$(BINARIES)/mptcpctl --generate-completion-script fish > $(COMPLETIONS)/fish/vendor_completions.d/mptcpctl.fish
	@if [ -d $(dir $(UNITDIR)) ] || [ -n "$(DESTDIR)" ]; then \
	  install -d $(UNITDIR) && sed 's|/usr/local/bin/mptcpctld|$(PREFIX)/bin/mptcpctld|' config/systemd/mptcpctld.service > $(UNITDIR)/mptcpctld.service && \
	  echo "installed $(UNITDIR)/mptcpctld.service (systemctl daemon-reload; systemctl enable --now mptcpctld)"; \
	fi
	@# The NetworkManager dispatcher hook, where NetworkManager is (or into DESTDIR).
	@if [ -d $(NMDISPATCHDIR) ] || [ -n "$(DESTDIR)" ]; then \
	  install -d $(DESTDIR)$(NMDISPATCHDIR) && \
	  sed 's|^MPTCPCTL=$${MPTCPCTL:-/usr/local/bin/mptcpctl}|MPTCPCTL=$${MPTCPCTL:-$(PREFIX)/bin/mptcpctl}|' config/networkmanager/90-mptcpctl \
	    > $(DESTDIR)$(NMDISPATCHDIR)/90-mptcpctl && chmod 0755 $(DESTDIR)$(NMDISPATCHDIR)/90-mptcpctl && \
	  echo "installed $(DESTDIR)$(NMDISPATCHDIR)/90-mptcpctl"; \
	fi

uninstall:
	rm -f $(BINDIR)/mptcpctl $(BINDIR)/mptcpctld $(DEBUGBINDIR)/mptcpctl.debug $(DEBUGBINDIR)/mptcpctld.debug $(MANDIR)/man8/mptcpctl.8 $(MANDIR)/man8/mptcpctld.8 \
	  $(MANDIR)/man5/mptcpctld.toml.5 $(UNITDIR)/mptcpctld.service $(DESTDIR)$(NMDISPATCHDIR)/90-mptcpctl \
	  $(COMPLETIONS)/bash-completion/completions/mptcpctl $(COMPLETIONS)/zsh/vendor-completions/_mptcpctl \
	  $(COMPLETIONS)/fish/vendor_completions.d/mptcpctl.fish
	@echo "left $(CONFDIR) (mptcpctld.toml, hooks.d) in place"

clean:
	rm -rf .build
