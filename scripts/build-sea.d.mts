export declare function buildExecutable(out: string, work: string): Promise<void>;
