# make fuzz: every harness in tests/fuzz/ linked with the project's sources
# compiled again with libFuzzer, ASan and UBSan instrumentation, then run.
#
#   make fuzz [FUZZ_TIME=seconds] [FUZZ="fuzz_request ..."]
#   make fuzz-standalone   (each harness without libFuzzer, in build/standalone)
#
# Objects go to tests/fuzz/build/ (the normal objects and libraries are not
# touched). Each harness starts from its committed seed corpus in
# tests/fuzz/corpus/<harness>/ and writes what it finds to the scratch corpus
# tests/fuzz/build/corpus/<harness>/; a crash leaves
# tests/fuzz/build/crash-<harness>-* and fails the target.

FUZZ_CC		?= clang
FUZZ_TIME	?= 30
FUZZ_DIR	:= tests/fuzz/build
FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS	:= -g -O1 -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
		   -D_GNU_SOURCE -DOPENSSL_SUPPRESS_DEPRECATED -DP2P_FUZZ=1 \
		   -fno-omit-frame-pointer $(FUZZ_SAN) -I. $(PKG_CFLAGS)
FUZZ_HARNESS	:= $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ		?= $(FUZZ_HARNESS)

# The programs' sources without their main(), one instrumented archive each.
FUZZ_LIBS	:= $(FUZZ_DIR)/peerd.a $(FUZZ_DIR)/trackerd.a \
		   $(FUZZ_DIR)/sharectl.a $(FUZZ_DIR)/ipc.a
fuzz_srcs	= $(filter-out $(1)/$(1).c,$(wildcard $(1)/*.c))
fuzz_objs	= $(patsubst %.c,$(FUZZ_DIR)/%.o,$(call fuzz_srcs,$(1)))

$(FUZZ_DIR)/%.o: %.c $(HDRS) tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(FUZZ_DIR)/%.a:
	rm -f $@ && ar rcs $@ $^
$(FUZZ_DIR)/ipc.a: $(call fuzz_objs,ipc)
$(FUZZ_DIR)/trackerd.a: $(call fuzz_objs,trackerd)
$(FUZZ_DIR)/peerd.a: $(call fuzz_objs,peerd)
$(FUZZ_DIR)/sharectl.a: $(call fuzz_objs,sharectl)

# tests/fuzz/log_quiet.c stands in for ipc/log.c (same functions, so the
# archive's log.o is never pulled in).
FUZZ_LOG	:= $(FUZZ_DIR)/tests/fuzz/log_quiet.o
.SECONDARY: $(FUZZ_LOG)
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LOG) $(FUZZ_LIBS) $(HDRS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LOG) \
	    -Wl,--start-group $(FUZZ_LIBS) -Wl,--end-group $(LDLIBS)

# A harness with tests/fuzz/standalone.c's main() instead of libFuzzer's:
# runs the files named on its command line once each (replay in gdb).
$(FUZZ_DIR)/standalone/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/standalone.c \
    $(FUZZ_LOG) $(FUZZ_LIBS) $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< tests/fuzz/standalone.c $(FUZZ_LOG) \
	    -Wl,--start-group $(FUZZ_LIBS) -Wl,--end-group $(LDLIBS)
fuzz-standalone: deps
	@$(MAKE) --no-print-directory -j$(NPROC) \
	    $(addprefix $(FUZZ_DIR)/standalone/,$(FUZZ))

.PHONY: fuzz fuzz-build fuzz-standalone fuzz-clean
# clang and its libFuzzer runtime, installed by the same deps rule
fuzz-build fuzz-standalone: DEB_PKGS += clang libclang-rt-14-dev
fuzz-build: deps
	@$(MAKE) --no-print-directory -j$(NPROC) $(addprefix $(FUZZ_DIR)/,$(FUZZ))

fuzz: fuzz-build
	@rc=0; for h in $(FUZZ); do \
	    mkdir -p $(FUZZ_DIR)/corpus/$$h; \
	    echo "== $$h ($(FUZZ_TIME) s)"; \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ./$(FUZZ_DIR)/$$h -max_total_time=$(FUZZ_TIME) -timeout=10 \
		-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_DIR)/crash-$$h- \
		$(FUZZ_DIR)/corpus/$$h tests/fuzz/corpus/$$h \
		> $(FUZZ_DIR)/$$h.log 2>&1 || { rc=1; \
		echo "fuzz: $$h failed; tail of $(FUZZ_DIR)/$$h.log:"; \
		tail -40 $(FUZZ_DIR)/$$h.log; }; \
	    grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' \
		$(FUZZ_DIR)/$$h.log | tail -2; \
	done; exit $$rc

fuzz-clean:
	rm -rf $(FUZZ_DIR)
clean: fuzz-clean
