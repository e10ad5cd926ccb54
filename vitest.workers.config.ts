import { workersConfig } from "./test/setup/workers-config.js";

// Every workerd test but the shard tests, with the production shard settings (the relay serves 250 clients itself).
export default workersConfig(["test/**/*.workers.test.ts"]);
