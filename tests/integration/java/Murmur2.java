// Prints Kafka's own murmur2 of each hex-encoded key and its partition for each count:
// the Java clients' partitioner, as the truth for dashboard/kafka/partitioner.py.
import org.apache.kafka.common.utils.Utils;

public class Murmur2 {
    public static void main(String[] args) {
        for (String hex : args) {
            byte[] key = java.util.HexFormat.of().parseHex(hex);
            int hash = Utils.murmur2(key);
            StringBuilder line = new StringBuilder(hex).append(' ').append(hash);
            for (int n = 1; n <= 12; n++) {
                line.append(' ').append(Utils.toPositive(hash) % n);
            }
            System.out.println(line);
        }
    }
}
