/** Copy the docs assets into `<dist>/docs/assets/`. */
export declare function copyDocsAssets(dist: string): void;
