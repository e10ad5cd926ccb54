import { workersConfig } from "./test/setup/workers-config.js";

// The fan-out shard tests: tiny shards, so a handful of clients exercises routing, growth and the switch back.
export default workersConfig(["test/**/*.shards.test.ts"], {
  RELAY_SHARD_THRESHOLD: "2",
  RELAY_SHARD_CLIENTS: "2",
  RELAY_MAX_SHARDS: "3",
});
