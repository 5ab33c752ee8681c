// CPCRE2: the 8-bit PCRE2 API for Swift.
// pcre2.h names every function through width-selecting macros (pcre2_compile -> pcre2_compile_8), which Swift
// cannot import, so this shim fixes the width at 8 and re-exports the calls Sluice needs as plain functions.
#ifndef CPCRE2_H
#define CPCRE2_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

/// Compiles `pattern` in byte mode (no UTF, no UCP; `(*UTF)` is a compile error) with LF as the newline and
/// the given extra options, and JIT-compiles it. On failure returns NULL and stores the PCRE2 error code and
/// pattern offset.
pcre2_code_8 *CPCRE2_compile(const uint8_t *pattern, size_t length, uint32_t options,
                             int *error_code, size_t *error_offset);
/// True when the JIT compiled the pattern (false means the interpreter will run it).
int CPCRE2_jit_ok(const pcre2_code_8 *code);
void CPCRE2_code_free(pcre2_code_8 *code);

/// A match context with the given match and depth limits (0 keeps PCRE2's default for that limit).
pcre2_match_context_8 *CPCRE2_match_context_create(uint32_t match_limit, uint32_t depth_limit);
void CPCRE2_match_context_free(pcre2_match_context_8 *context);

pcre2_match_data_8 *CPCRE2_match_data_create(const pcre2_code_8 *code);
void CPCRE2_match_data_free(pcre2_match_data_8 *data);
/// The ovector of `data`: pairs of start/end offsets, one pair per capture group.
size_t *CPCRE2_ovector(pcre2_match_data_8 *data);

/// Runs one match of `code` over subject[0..<length] starting at `start`, without UTF checks.
/// Uses the JIT fast path when available. Returns PCRE2's result code (>0 on match, PCRE2_ERROR_NOMATCH, or
/// another negative error such as PCRE2_ERROR_MATCHLIMIT).
int CPCRE2_match(const pcre2_code_8 *code, const uint8_t *subject, size_t length, size_t start,
                 uint32_t options, pcre2_match_data_8 *data, pcre2_match_context_8 *context);

/// `CPCRE2_match` through PCRE2's JIT fast path (pcre2_jit_match), which skips pcre2_match's checks of its
/// arguments and does not turn a leading (*NOTEMPTY) or (*NOTEMPTY_ATSTART) into options: the caller passes
/// those in `options`. Only for a code that `CPCRE2_jit_ok` says was JIT-compiled. The match limit applies as in
/// `CPCRE2_match`; the JIT's own stack limit stands in for the depth limit there too.
int CPCRE2_jit_match(const pcre2_code_8 *code, const uint8_t *subject, size_t length, size_t start,
                     uint32_t options, pcre2_match_data_8 *data, pcre2_match_context_8 *context);

/// Gives `context` a JIT stack that may grow to `max_size` bytes (PCRE2's own is 32 KiB, too small for some
/// patterns on long lines); returns the stack, to be freed with `CPCRE2_jit_stack_free` after the context, or NULL
/// when it cannot be allocated (the context keeps its stack then).
pcre2_jit_stack_8 *CPCRE2_jit_stack_attach(pcre2_match_context_8 *context, size_t max_size);
void CPCRE2_jit_stack_free(pcre2_jit_stack_8 *stack);

/// Writes PCRE2's message for `error_code` into buffer; returns its length or a negative value.
int CPCRE2_error_message(int error_code, uint8_t *buffer, size_t size);

/// Number of capture groups and the name table, for formats built from named groups.
uint32_t CPCRE2_capture_count(const pcre2_code_8 *code);
uint32_t CPCRE2_name_count(const pcre2_code_8 *code);
/// Name table entry `index`: stores the group number and returns a pointer to the NUL-terminated name.
const char *CPCRE2_name_entry(const pcre2_code_8 *code, uint32_t index, uint32_t *group);

#endif
