/** URL path of the docs assets. */
export declare const DOCS_ASSETS_PATH: string;
/** Copy the docs assets into `<dist>/docs/assets/`. */
export declare function copyDocsAssets(dist: string): void;
