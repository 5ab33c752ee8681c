// See CPCRE2.h: fixed-width wrappers over PCRE2's macro-named API.
#include "CPCRE2.h"

pcre2_code_8 *CPCRE2_compile(const uint8_t *pattern, size_t length, uint32_t options,
                             int *error_code, size_t *error_offset) {
    // Byte mode for good: (*UTF) in a pattern is refused, as UTF mode would reject lines that are not UTF-8.
    // Lines end at LF whatever newline convention this PCRE2 was built with ((*CR) and the like in a pattern
    // still override it).
    pcre2_compile_context_8 *context = pcre2_compile_context_create_8(NULL);
    if (context != NULL) pcre2_set_newline_8(context, PCRE2_NEWLINE_LF);
    pcre2_code_8 *code = pcre2_compile_8(pattern, length, options | PCRE2_NEVER_UTF, error_code, error_offset,
                                         context);
    if (context != NULL) pcre2_compile_context_free_8(context);
    if (code != NULL) {
        // A JIT failure (for example no executable memory) is not fatal: pcre2_match falls back to the interpreter.
        (void)pcre2_jit_compile_8(code, PCRE2_JIT_COMPLETE);
    }
    return code;
}

int CPCRE2_jit_ok(const pcre2_code_8 *code) {
    size_t size = 0;
    return pcre2_pattern_info_8(code, PCRE2_INFO_JITSIZE, &size) == 0 && size > 0;
}

void CPCRE2_code_free(pcre2_code_8 *code) { pcre2_code_free_8(code); }

pcre2_match_context_8 *CPCRE2_match_context_create(uint32_t match_limit, uint32_t depth_limit) {
    pcre2_match_context_8 *context = pcre2_match_context_create_8(NULL);
    if (context == NULL) return NULL;
    if (match_limit > 0) pcre2_set_match_limit_8(context, match_limit);
    if (depth_limit > 0) pcre2_set_depth_limit_8(context, depth_limit);
    return context;
}

void CPCRE2_match_context_free(pcre2_match_context_8 *context) { pcre2_match_context_free_8(context); }

pcre2_match_data_8 *CPCRE2_match_data_create(const pcre2_code_8 *code) {
    return pcre2_match_data_create_from_pattern_8(code, NULL);
}

void CPCRE2_match_data_free(pcre2_match_data_8 *data) { pcre2_match_data_free_8(data); }

size_t *CPCRE2_ovector(pcre2_match_data_8 *data) { return pcre2_get_ovector_pointer_8(data); }

int CPCRE2_match(const pcre2_code_8 *code, const uint8_t *subject, size_t length, size_t start,
                 uint32_t options, pcre2_match_data_8 *data, pcre2_match_context_8 *context) {
    return pcre2_match_8(code, subject, length, start, options | PCRE2_NO_UTF_CHECK, data, context);
}

int CPCRE2_jit_match(const pcre2_code_8 *code, const uint8_t *subject, size_t length, size_t start,
                     uint32_t options, pcre2_match_data_8 *data, pcre2_match_context_8 *context) {
    return pcre2_jit_match_8(code, subject, length, start, options, data, context);
}

pcre2_jit_stack_8 *CPCRE2_jit_stack_attach(pcre2_match_context_8 *context, size_t max_size) {
    pcre2_jit_stack_8 *stack = pcre2_jit_stack_create_8(32 * 1024, max_size, NULL);
    if (stack != NULL) pcre2_jit_stack_assign_8(context, NULL, stack);
    return stack;
}

void CPCRE2_jit_stack_free(pcre2_jit_stack_8 *stack) { pcre2_jit_stack_free_8(stack); }

int CPCRE2_error_message(int error_code, uint8_t *buffer, size_t size) {
    return pcre2_get_error_message_8(error_code, buffer, size);
}

uint32_t CPCRE2_capture_count(const pcre2_code_8 *code) {
    uint32_t count = 0;
    pcre2_pattern_info_8(code, PCRE2_INFO_CAPTURECOUNT, &count);
    return count;
}

uint32_t CPCRE2_name_count(const pcre2_code_8 *code) {
    uint32_t count = 0;
    pcre2_pattern_info_8(code, PCRE2_INFO_NAMECOUNT, &count);
    return count;
}

const char *CPCRE2_name_entry(const pcre2_code_8 *code, uint32_t index, uint32_t *group) {
    uint32_t entry_size = 0;
    PCRE2_SPTR8 table = NULL;
    pcre2_pattern_info_8(code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
    pcre2_pattern_info_8(code, PCRE2_INFO_NAMETABLE, &table);
    const uint8_t *entry = table + (size_t)index * entry_size;
    *group = ((uint32_t)entry[0] << 8) | entry[1];
    return (const char *)(entry + 2);
}
