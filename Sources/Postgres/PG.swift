public enum PG {}
