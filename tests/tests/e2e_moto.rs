//! The end-to-end suite on DynamoDB and SQS (moto at `BANTER_TEST_AWS_ENDPOINT`, started by
//! `scripts/test`). Without the endpoint every test fails: this suite never skips.

banter_e2e::e2e_suite!(banter_e2e::stack::Backend::moto());
