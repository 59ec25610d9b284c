# kad: build, install in place, man page check. The crate itself builds with cargo.
#
#   make                      scripts/build.sh: the shipped, statically linked target/kad
#   make install              install into $(DESTDIR)/ (default: the running system)
#   make install AS_KEEPALIVED=1   also make the keepalived command and service lead to kad
#   make uninstall            undo the install, restoring what it replaced
#   make man-check            render the man pages; fail on any groff or man warning

PREFIX ?= /usr
DESTDIR ?=
AS_KEEPALIVED ?=
CARGO ?= cargo
BINARY ?= target/kad
MANPAGES := man/kad.8 man/keepalived.conf.5

as_keepalived_flag := $(if $(filter 1 yes true,$(AS_KEEPALIVED)),--as-keepalived)

.PHONY: all install uninstall man-check

all:
	CARGO="$(CARGO)" scripts/build.sh

# Does not build: installing as root should not compile as root. Run make first.
install:
	sh packaging/install.sh --destdir "$(DESTDIR)" --prefix "$(PREFIX)" --binary "$(BINARY)" $(as_keepalived_flag)

uninstall:
	sh packaging/install.sh --uninstall --destdir "$(DESTDIR)"

man-check:
	@set -e; for page in $(MANPAGES); do \
		out=$$(groff -man -Tutf8 -ww -z "$$page" 2>&1); \
		out=$$out$$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$$page" 2>&1 >/dev/null); \
		if [ -n "$$out" ]; then echo "$$page:"; echo "$$out"; exit 1; fi; \
		wide=$$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$$page" 2>/dev/null | wc -L); \
		if [ "$$wide" -gt 80 ]; then echo "$$page: a line is $$wide columns wide"; exit 1; fi; \
		echo "$$page: ok"; \
	done
