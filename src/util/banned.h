#pragma once
/*
 * Functions that are easy to misuse are banned in cove, as in git
 * banned.h.  Use snprintf, strncpy-free copies (strdup, memcpy with explicit
 * lengths), strtok_r-free parsing, and cove_parse_* for integers.
 */
#define COVE_BANNED(func) sorry_##func##_is_banned_in_cove

#undef strcpy
#define strcpy(x, y) COVE_BANNED(strcpy)
#undef strcat
#define strcat(x, y) COVE_BANNED(strcat)
#undef sprintf
#define sprintf(...) COVE_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) COVE_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) COVE_BANNED(strtok)
#undef atoi
#define atoi(x) COVE_BANNED(atoi)
#undef atol
#define atol(x) COVE_BANNED(atol)
#undef gets
#define gets(x) COVE_BANNED(gets)
