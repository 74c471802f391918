/* One line per test file: SUITE(suite_name). Keep sorted. */
