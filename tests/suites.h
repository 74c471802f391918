/* One line per test file: SUITE(suite_name). Keep sorted. */
SUITE(suite_ledger)
SUITE(suite_nn)
SUITE(suite_ppo)
