/* One line per test file: SUITE(suite_name). Keep sorted. */
SUITE(suite_bcast)
SUITE(suite_config)
SUITE(suite_ledger)
SUITE(suite_nn)
SUITE(suite_ppo)
SUITE(suite_sim)
