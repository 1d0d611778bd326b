import * as ds from "@devicescript/core"
import { beforeEach } from "@devicescript/test"

/**
 * The VM raises InfiniteLoop once a fiber runs ~50k instructions without
 * yielding, and @devicescript/test runs synchronous tests back to back.
 */
export function yieldBetweenTests() {
    beforeEach(async () => {
        await ds.sleep(0)
    })
}
